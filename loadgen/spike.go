package loadgen

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// spike has every voter vote once, at once or paced at Rate, and waits for
// every final answer.
func (r *run) spike(ctx context.Context) bool {
	t := newVoteTracker(len(r.voters), len(r.polls), r.rep.Options)
	var cp *cpuProfile
	if r.cfg.ProfileURL != "" {
		cp = &cpuProfile{base: strings.TrimRight(r.cfg.ProfileURL, "/"), hc: r.tgt.hc}
		if err := cp.start(ctx); err != nil {
			r.rep.fail("%v", err)
			cp = nil
		}
	}
	p0, err := r.tgt.process(ctx)
	if err != nil {
		r.rep.fail("vote: %v", err)
		return false
	}
	voteStart := time.Now()
	stop := r.progress("vote", func() string {
		pending, accepted, p99 := t.counts()
		return fmt.Sprintf("%d/%d sent, %d answered, %d accepted, %.0f accepted/s, ack p99 so far %s",
			t.sent.Load(), len(r.voters), len(r.voters)-pending, accepted, float64(accepted)/time.Since(voteStart).Seconds(), p99.Round(100*time.Microsecond))
	})
	framesBefore := frames(r.all)
	sampler := r.sampleFrames()
	r.send(ctx, t)
	ok := r.await(ctx, t.done)
	framesAfter := frames(r.all)
	sampler.stop()
	if ok {
		r.processAt, err = r.tgt.process(ctx)
	}
	stop()
	if cp != nil {
		defer r.profileSpike(ctx, *cp) // once CPUPerVoteUS is known
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	rep := r.rep
	rep.Votes = len(r.voters)
	for k, n := range t.statuses {
		rep.Statuses[k] += n
	}
	rep.Retries, rep.Accepted = t.retries, counted(t.statuses)
	if !ok {
		rep.fail("%d of %d votes had no final answer within %s", t.want, len(r.voters), r.cfg.PhaseTimeout)
		return false
	}
	if err != nil {
		rep.fail("vote: %v", err)
		return false
	}
	if rep.Accepted != rep.Votes {
		rep.fail("%d of %d votes were not accepted: %s", rep.Votes-rep.Accepted, rep.Votes, statusList(t.statuses))
	}
	var first, lastFirst int64
	for _, v := range r.voters {
		s := v.firstSent.Load()
		if s != 0 && (first == 0 || s < first) {
			first = s
		}
		lastFirst = max(lastFirst, s)
	}
	r.spikeAck, r.spikeStart = t.lastAck, first
	if len(r.queued) > 0 {
		rep.AdmittedAckMS, rep.QueuedAckMS = latencyMS(t.ackSocket), latencyMS(t.ackLine)
	}
	rep.VoteSeconds = time.Duration(t.lastAck - first).Seconds()
	if rep.VoteSeconds > 0 {
		rep.AcceptedPerSecond = float64(rep.Accepted) / rep.VoteSeconds
	}
	if lastFirst > first {
		rep.SendRate = float64(len(r.voters)-1) / time.Duration(lastFirst-first).Seconds()
	}
	rep.AckMS, rep.AnswerMS = latencyMS(t.ack), latencyMS(t.full)
	rep.Timeline = timeline(first, t, sampler)
	rep.VoteDeliveries = framesAfter - framesBefore
	if rep.VoteSeconds > 0 {
		rep.VoteDeliveriesPerSecond = float64(rep.VoteDeliveries) / rep.VoteSeconds
	}
	if rep.Accepted > 0 {
		rep.CPUPerVoteUS = (r.processAt.CPUSeconds - p0.CPUSeconds) / float64(rep.Accepted) * 1e6
	}
	for pi, accepted := range t.accepted {
		p := r.polls[pi]
		for i, n := range accepted {
			p.expected[i] += n
			p.target += n
		}
	}
	return true
}

// send hands the voters to a pool of writers, paced when Rate is set.
func (r *run) send(ctx context.Context, t *voteTracker) {
	queue := make(chan *viewer, 1024)
	var wg sync.WaitGroup
	for range min(128, len(r.voters)) {
		wg.Go(func() {
			for v := range queue {
				v.vote(t)
				t.sent.Add(1)
			}
		})
	}
	start := time.Now()
	for i, v := range r.voters {
		if r.cfg.Rate > 0 {
			due := start.Add(time.Duration(float64(i) / r.cfg.Rate * float64(time.Second)))
			if d := time.Until(due); d > time.Millisecond {
				select {
				case <-ctx.Done():
				case <-time.After(d):
				}
			}
		}
		if ctx.Err() != nil {
			v.votes.Store(t)
			v.finish(statusUnsent)
			continue
		}
		queue <- v
	}
	close(queue)
	wg.Wait()
}
