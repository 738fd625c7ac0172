package loadgen

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/votecast/votecast/schema"
)

// run is the state of one Run.
type run struct {
	cfg     Config
	tgt     *target
	rep     *Report
	epoch   time.Time
	prefix  string // of this run's user ids
	probes  int
	clients []*http.Client

	voters, probers, all []*viewer
	queued               []*viewer // voters the server sent to the waiting room
	spikeStart           int64     // the spike's first send
	polls                []*pollRun
	fan                  fanout
	readers, timers      sync.WaitGroup
	closing              atomic.Bool
	lostConns            atomic.Int64
	errorFrames          atomic.Int64

	spikeAck  int64   // when the spike's last ack came in
	before    process // before the first connection
	processAt process // at the spike's last ack
}

// Run plays the spike described by cfg against a running server. An error
// means the run could not start (bad settings, API or /metrics not
// reachable, poll not usable); once started, Run returns a Report whose
// Failures list every check that failed, a phase past its deadline among
// them. Run ends every goroutine and connection it opened before it
// returns.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	r := &run{cfg: cfg, epoch: time.Now(), probes: max(cfg.Probes, 0),
		tgt: &target{base: strings.TrimRight(cfg.URL, "/"), token: cfg.AdminToken, hc: cfg.HTTPClient},
		rep: &Report{At: time.Now().UTC().Truncate(time.Second), URL: cfg.URL, Viewers: cfg.Viewers, Sources: len(cfg.Sources), TargetRate: cfg.Rate, Statuses: map[string]int{}, Failures: []string{}}}
	if err := r.setup(ctx); err != nil {
		return nil, err
	}
	defer r.closeAll()
	if !r.connect(ctx) {
		return r.rep, nil
	}
	if len(r.queued) > 0 {
		r.checkOrder(ctx, r.queued)
	}
	r.idle(ctx)
	if r.spike(ctx) {
		r.finalTotals(ctx)
		if r.cfg.Giveaway > 0 {
			r.outcomes(ctx)
		}
		r.durable(ctx)
		r.probe(ctx)
		r.drain(ctx)
	}
	r.verify(ctx)
	if err := ctx.Err(); err != nil {
		r.rep.fail("run stopped before its end: %v", err)
	}
	if n := r.lostConns.Load(); n > 0 {
		r.rep.fail("%d connections were closed by the server during the run", n)
	}
	if n := r.errorFrames.Load(); n > 0 {
		r.rep.fail("%d error frames or unreadable acks from the server", n)
	}
	return r.rep, nil
}

func (r *run) setup(ctx context.Context) error {
	var rnd [2]byte
	_, _ = rand.Read(rnd[:]) // crypto/rand.Read never fails on supported platforms
	r.prefix = "load-" + hex.EncodeToString(rnd[:])
	for i := range r.cfg.Polls {
		var p schema.Poll
		var err error
		if r.cfg.Giveaway > 0 {
			p, err = r.tgt.openGiveaway(ctx, r.cfg.Options, r.cfg.Giveaway)
		} else if r.cfg.Poll == "" {
			p, err = r.tgt.openPoll(ctx, r.cfg.Options)
		} else if p, err = r.tgt.poll(ctx, r.cfg.Poll); err == nil && (p.State != schema.Open || p.Results != schema.ResultsLive) {
			err = fmt.Errorf("poll %s is %s with %s results; load needs an open poll with live results", p.ID, p.State, p.Results)
		}
		if err != nil {
			return fmt.Errorf("loadgen: %w", err)
		}
		if i == 0 {
			r.rep.Poll, r.rep.Options = p.ID, len(p.Options)
		}
		tot, err := r.tgt.results(ctx, p.ID)
		if err != nil {
			return fmt.Errorf("loadgen: read the poll's totals: %w", err)
		}
		expected := make([]int64, len(p.Options))
		copy(expected, tot.Counts)
		r.polls = append(r.polls, &pollRun{id: p.ID, index: i, expected: expected, target: tot.Total})
	}
	r.rep.Polls = len(r.polls)
	for _, p := range r.polls {
		r.rep.PollIDs = append(r.rep.PollIDs, p.id)
	}
	user, _, _ := r.user(0)
	r.rep.EventBytes = len(schema.AppendVoteEvent(nil, user, schema.VoteFrame{ID: voteKey, Count: 1}))
	proc, err := r.tgt.process(ctx)
	if err != nil {
		return fmt.Errorf("loadgen: %w", err)
	}
	r.rep.RSSBefore = proc.RSS
	r.before = proc
	return nil
}

func (r *run) now() int64 { return int64(time.Since(r.epoch)) }

// await waits for done until the phase deadline; false on timeout.
func (r *run) await(ctx context.Context, done <-chan struct{}) bool {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.PhaseTimeout)
	defer cancel()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}

// idle waits for every viewer's first results frame, lets the server
// settle, and reads its memory.
func (r *run) idle(ctx context.Context) {
	rd := r.fan.arm(r.targets(), r.all)
	stop := r.progress("settle", func() string { return fmt.Sprintf("%d viewers without a results frame", rd.remaining.Load()) })
	ok := r.await(ctx, rd.done)
	stop()
	if !ok {
		r.rep.fail("%d viewers got no results frame within %s of connecting", rd.remaining.Load(), r.cfg.PhaseTimeout)
		return
	}
	p0, err := r.tgt.process(ctx)
	if err != nil {
		r.rep.fail("idle: %v", err)
		return
	}
	select {
	case <-ctx.Done():
		return
	case <-time.After(r.cfg.Settle): // a measuring pause, not a wait for a condition
	}
	p1, err := r.tgt.process(ctx)
	if err != nil {
		r.rep.fail("idle: %v", err)
		return
	}
	r.rep.RSSIdle = p1.RSS
	n := float64(len(r.all))
	r.rep.IdleBytesPerConn = float64(p1.RSS-r.before.RSS) / n
	r.rep.IdleGoroutinesPerConn = float64(p1.Goroutines-r.before.Goroutines) / n
	r.rep.IdleStackPerConn = float64(p1.StackBytes-r.before.StackBytes) / n
	r.rep.IdleHeapPerConn = float64(p1.HeapBytes-r.before.HeapBytes) / n
	r.rep.IdleCPUPercent = (p1.CPUSeconds - p0.CPUSeconds) / r.cfg.Settle.Seconds() * 100
}

// durable waits until the tally has nothing pending (read after the
// fan-out, so the figure is an upper bound).
func (r *run) durable(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.PhaseTimeout)
	defer cancel()
	for {
		n, err := r.tgt.tallyPending(ctx)
		if err == nil && n == 0 {
			r.rep.TallyDurableMS = ms(time.Duration(r.now() - r.spikeAck))
			return
		}
		select {
		case <-ctx.Done():
			r.rep.fail("tally still had %d events pending %s after the spike (last error: %v)", n, r.cfg.PhaseTimeout, err)
			return
		case <-time.After(20 * time.Millisecond): // polling a condition, with a deadline
		}
	}
}

// verify compares the poll's results with the accepted votes, allowing
// the counting a few seconds to catch up.
func (r *run) verify(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, min(10*time.Second, r.cfg.PhaseTimeout))
	defer cancel()
	r.rep.Expected = sumCounts(r.polls, func(p *pollRun) []int64 { return p.expected })
	counts := make([][]int64, len(r.polls))
	for {
		var err error
		exact := true
		for i, p := range r.polls {
			var tot schema.Totals
			if tot, err = r.tgt.results(ctx, p.id); err != nil {
				break
			}
			counts[i] = tot.Counts
			exact = exact && slices.Equal(tot.Counts, p.expected)
		}
		if err == nil {
			r.rep.Counts = sumCounts(r.polls, func(p *pollRun) []int64 { return counts[p.index] })
			if r.rep.Exact = exact; exact {
				return
			}
		}
		select {
		case <-ctx.Done():
			if err != nil {
				r.rep.fail("read final totals: %v", err)
			} else {
				r.rep.fail("final totals %v differ from the accepted votes %v (summed over %d polls)", r.rep.Counts, r.rep.Expected, len(r.polls))
			}
			return
		case <-time.After(50 * time.Millisecond): // polling a condition, with a deadline
		}
	}
}

// lost is told by a reader that its connection ended.
func (r *run) lost(v *viewer) {
	if r.closing.Load() || v.left.Load() {
		return
	}
	r.lostConns.Add(1)
	v.finish(statusDisconnected)
	if rd := r.fan.cur.Load(); rd != nil {
		r.fan.count(rd, v)
	}
}

// closeAll ends every connection and waits for the readers and retry
// timers.
func (r *run) closeAll() {
	r.closing.Store(true)
	for _, v := range r.all {
		v.close()
	}
	for _, v := range r.queued {
		v.close()
	}
	r.readers.Wait()
	r.timers.Wait()
	for _, c := range r.clients {
		c.CloseIdleConnections()
	}
}

func frames(vs []*viewer) int64 {
	var n int64
	for _, v := range vs {
		n += v.frames.Load()
	}
	return n
}

// progress prints a line a second until the returned stop is called.
func (r *run) progress(phase string, line func() string) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	every := time.Second
	if r.cfg.Redraw {
		every = 250 * time.Millisecond
	}
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				if r.cfg.Redraw {
					// The phase's last state stays on screen.
					fmt.Fprintf(r.cfg.Progress, "\r\033[K%s: %s\n", phase, line())
				}
				return
			case <-t.C:
				if r.cfg.Redraw {
					fmt.Fprintf(r.cfg.Progress, "\r\033[K%s: %s", phase, line())
				} else {
					fmt.Fprintf(r.cfg.Progress, "%s: %s\n", phase, line())
				}
			}
		}
	})
	return func() { close(done); wg.Wait() }
}
