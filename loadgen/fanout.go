package loadgen

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/votecast/votecast/schema"
)

// finalTotals waits until every viewer has seen the exact final totals and
// measures the fan-out's time and CPU.
func (r *run) finalTotals(ctx context.Context) {
	rd := r.fan.arm(r.targets(), r.all)
	framesA := frames(r.all)
	stop := r.progress("fan-out", func() string {
		return fmt.Sprintf("%d/%d viewers saw their poll's final total", int64(len(r.all))-rd.remaining.Load(), len(r.all))
	})
	ok := r.await(ctx, rd.done)
	stop()
	if !ok {
		r.rep.fail("%d viewers did not see their poll's final total within %s", rd.remaining.Load(), r.cfg.PhaseTimeout)
		return
	}
	pB, err := r.tgt.process(ctx)
	if err != nil {
		r.rep.fail("fan-out: %v", err)
		return
	}
	delays := NewLatencies()
	for _, v := range r.all {
		if v.gone.Load() {
			continue
		}
		if t := v.total.Load(); t != v.poll.target {
			r.rep.fail("a viewer of poll %s saw total %d after %d votes were accepted", v.poll.id, t, v.poll.target)
			return
		}
		delays.Record(time.Duration(max(v.totalAt.Load()-r.spikeAck, 0)))
	}
	s := delays.Summarize()
	r.rep.FinalTotalsMS, r.rep.FinalTotalsP50MS = ms(s.Max), ms(s.P50)
	r.rep.FanoutDeliveries = max(frames(r.all)-framesA, delays.Count())
	r.rep.FanoutCPUPerDeliveryUS = (pB.CPUSeconds - r.processAt.CPUSeconds) / float64(r.rep.FanoutDeliveries) * 1e6
}

// probe casts single votes on the now quiet server, one at a time: each
// is one results frame to every viewer, a clean fan-out measure.
func (r *run) probe(ctx context.Context) {
	if len(r.probers) == 0 {
		return
	}
	// Probe from the totals the server shows: after a failed spike they
	// may differ from the accepted votes, and a probe must still change
	// them.
	totals := make([]int64, len(r.polls))
	for i, p := range r.polls {
		tot, err := r.tgt.results(ctx, p.id)
		if err != nil {
			r.rep.fail("probe: %v", err)
			return
		}
		totals[i] = tot.Total
	}
	var cpu float64
	for _, pv := range r.probers {
		p0, err := r.tgt.process(ctx)
		if err != nil {
			r.rep.fail("probe: %v", err)
			return
		}
		f0 := frames(r.all)
		t := newVoteTracker(1, len(r.polls), r.rep.Options)
		pv.vote(t)
		if !r.await(ctx, t.done) || t.statuses[schema.StatusAccepted] != 1 {
			r.rep.fail("probe vote not accepted within %s: %s", r.cfg.PhaseTimeout, statusList(t.statuses))
			return
		}
		pv.poll.expected[pv.option]++
		pv.poll.target++
		totals[pv.poll.index]++
		rd := r.fan.arm(slices.Clone(totals), r.all)
		if !r.await(ctx, rd.done) {
			r.rep.fail("%d viewers did not see probe total %d of poll %s within %s", rd.remaining.Load(), totals[pv.poll.index], pv.poll.id, r.cfg.PhaseTimeout)
			return
		}
		p1, err := r.tgt.process(ctx)
		if err != nil {
			r.rep.fail("probe: %v", err)
			return
		}
		var last int64
		for _, v := range r.all {
			if !v.gone.Load() {
				last = max(last, v.totalAt.Load())
			}
		}
		r.rep.ProbeLastViewerMS = append(r.rep.ProbeLastViewerMS, ms(time.Duration(max(last-t.lastAck, 0))))
		r.rep.ProbeDeliveries += frames(r.all) - f0
		cpu += p1.CPUSeconds - p0.CPUSeconds
		r.rep.Probes++
	}
	if r.rep.ProbeDeliveries > 0 {
		r.rep.ProbeCPUPerDeliveryUS = cpu / float64(r.rep.ProbeDeliveries) * 1e6
	}
}
