// Package broadcast turns tally's shard snapshots into live totals for every
// viewer of a poll.
//
// The Hub keeps, per poll shard, the snapshot with the highest sequence (so
// totals never go back; of two with one sequence, the later, so a new tally
// owner can correct the counts it took over), ignores one whose sequence the
// VOTES stream has not reached (seqguard.go), sums them per poll, and at
// most once per Interval encodes a poll's results frame once and offers it
// to every subscriber. Offer must not block: a subscriber keeps only the
// newest frame, so a slow viewer gets the latest totals, never a backlog.
//
// Concurrency: Run owns the consuming goroutine, the ticker and the
// stream-info refreshes, and returns when its context ends. Subscribe,
// Totals and PollChanged are safe from any goroutine.
package broadcast

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/votecast/votecast/internal/parts"
	"github.com/votecast/votecast/schema"
)

// Sink receives encoded results frames. Offer must return at once and
// must not modify the frame; it is called outside the hub's lock, so it
// may come once more just after the sink unsubscribed. An alias of the
// literal type, so other packages can name it without importing this one.
type Sink = interface{ Offer([]byte) }

// PollView tells the hub a poll's options, state and visibility.
type PollView interface {
	Get(id string) (schema.Poll, bool)
}

// Options configures a Hub. JS and Polls are required.
type Options struct {
	JS    jetstream.JetStream
	Polls PollView
	// Interval is the shortest time between two frames of one poll;
	// zero value: 100ms.
	Interval time.Duration
	// MaxDeliveries caps the frames per second this node writes to viewers
	// in all. With many viewers the interval between frames stretches
	// (viewers / MaxDeliveries, never past MaxInterval), so a spike of
	// votes cannot spend the node's CPU on totals. Zero value: 100,000.
	MaxDeliveries int
	// MaxInterval bounds that stretching; zero value: 1s.
	MaxInterval time.Duration
	// VotesWaiting, when set, reports whether this node has votes
	// waiting for the log. While it does, fan-out rounds are spaced so
	// that totals take at most FanoutShare of the node's CPU: a spike's
	// acks come before repainting its totals. Zero value: never.
	VotesWaiting func() bool
	// FanoutShare is that share of the node's cores (GOMAXPROCS); zero
	// value: 0.1. On 2 cores at DeliveryCost that is 13,000 frames a
	// second, more than one a second for each of 10,000 viewers, while
	// the other 90% goes to the votes.
	FanoutShare float64
	// DeliveryCost is the CPU one delivered totals frame costs, for that
	// budget; zero value: 15µs (scripts/bench measured 13.0–14.6µs per
	// delivery on this project's 2-core machine, with corked writes).
	DeliveryCost time.Duration
	// HoldFor is how long a snapshot whose sequence the VOTES stream's
	// info has not reached is held and checked again before it is
	// dropped as no tally's (seqguard.go); zero value: 5s. The stream's
	// info can lag what its consumers have delivered.
	HoldFor time.Duration
	// Logger; zero value: slog.Default().
	Logger *slog.Logger
	// Registerer receives the hub's metrics; zero value: none.
	Registerer prometheus.Registerer
}

// Hub fans totals out to subscribers.
type Hub struct {
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	polls    map[string]*pollTotals
	viewerN  int       // subscribers over all polls
	lastSent time.Time // of the last fan-out round

	// The check of snapshots against the VOTES stream (seqguard.go),
	// under mu.
	votesLast uint64 // the highest last sequence of VOTES seen
	held      map[shardKey][]heldSnapshot
	warned    map[shardKey]struct{}
	wake      chan struct{} // a snapshot is held: Run refreshes
	urgent    chan struct{} // a giveaway sold out: Run fans out at once

	// Reused by fanOut between rounds (only Run's goroutine calls it).
	round []offer
	sinks []Sink

	viewers prometheus.Gauge
	frames  prometheus.Counter
	dropped prometheus.Counter
}

// offer is one poll's part of a fan-out round: its frame for sinks[from:to].
type offer struct {
	frame    []byte
	from, to int
}

type pollTotals struct {
	shards map[int]schema.Snapshot
	subs   map[Sink]struct{}
	dirty  bool
	frame  []byte // the newest encoded frame, what a new subscriber gets
}

// New validates opts and returns a Hub; Run starts it.
func New(opts Options) (*Hub, error) {
	if opts.JS == nil || opts.Polls == nil {
		return nil, errors.New("new broadcast hub: JS and Polls are required")
	}
	if opts.Interval == 0 {
		opts.Interval = 100 * time.Millisecond
	}
	if opts.MaxDeliveries == 0 {
		opts.MaxDeliveries = 100_000
	}
	if opts.MaxInterval == 0 {
		opts.MaxInterval = time.Second
	}
	if opts.FanoutShare == 0 {
		opts.FanoutShare = 0.1
	}
	if opts.DeliveryCost == 0 {
		opts.DeliveryCost = 15 * time.Microsecond
	}
	if opts.HoldFor == 0 {
		opts.HoldFor = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	h := &Hub{
		opts: opts, log: opts.Logger.With("role", "broadcast"), polls: map[string]*pollTotals{},
		held: map[shardKey][]heldSnapshot{}, warned: map[shardKey]struct{}{}, wake: make(chan struct{}, 1), urgent: make(chan struct{}, 1),
		viewers: prometheus.NewGauge(prometheus.GaugeOpts{Name: "votecast_broadcast_viewers", Help: "Viewer connections subscribed to totals."}),
		frames:  prometheus.NewCounter(prometheus.CounterOpts{Name: "votecast_broadcast_frames_total", Help: "Results frames offered to viewers."}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "votecast_broadcast_snapshots_ignored_total", Help: "Snapshots ignored for a sequence beyond the votes log."}),
	}
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(h.viewers, h.frames, h.dropped)
	}
	return h, nil
}

// Run consumes snapshots (the newest of every shard first, so a restarted
// node has the current totals at once) and fans out until ctx ends.
func (h *Hub) Run(ctx context.Context) error {
	parts.For(parts.Fanout).Set()
	defer parts.Labels{}.Set()
	cons, err := h.opts.JS.OrderedConsumer(ctx, schema.TallyStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{schema.TallySubject},
		DeliverPolicy:  jetstream.DeliverLastPerSubjectPolicy,
	})
	if err != nil {
		return fmt.Errorf("broadcast: consume snapshots: %w", err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		s, err := schema.DecodeSnapshot(m.Data())
		if err != nil {
			h.log.Error("broadcast: skip bad snapshot", "subject", m.Subject(), "err", err)
			return
		}
		h.apply(s)
	}, jetstream.PullHeartbeat(schema.ConsumerHeartbeat))
	if err != nil {
		return fmt.Errorf("broadcast: consume snapshots: %w", err)
	}
	defer cc.Stop()
	rf := newRefresher(h)
	defer rf.stop()
	t := time.NewTicker(h.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-h.wake:
			rf.kick(ctx)
		case <-rf.timer.C:
			rf.kick(ctx)
		case res := <-rf.done:
			rf.finish(ctx, res)
		case <-h.urgent:
			// A giveaway just sold out: every entrant learns its outcome
			// from this frame, so it goes now, not after an interval a
			// spike has stretched. Once per giveaway.
			h.lastSent = time.Now()
			h.fanOut()
		case now := <-t.C:
			if now.Sub(h.lastSent) >= h.interval() {
				h.lastSent = now
				h.fanOut()
			}
		}
	}
}

func (h *Hub) poll(id string) *pollTotals {
	p := h.polls[id]
	if p == nil {
		p = &pollTotals{shards: map[int]schema.Snapshot{}, subs: map[Sink]struct{}{}}
		h.polls[id] = p
	}
	return p
}

func (h *Hub) apply(s schema.Snapshot) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.Seq > h.votesLast {
		h.hold(heldSnapshot{s, time.Now()})
		return
	}
	h.store(s)
}

// store keeps s unless its shard has a snapshot of a later sequence; the
// caller holds h.mu.
func (h *Hub) store(s schema.Snapshot) {
	p := h.poll(s.Poll)
	old, ok := p.shards[s.Shard]
	if ok && old.Seq > s.Seq {
		return
	}
	p.shards[s.Shard] = s
	p.dirty = true
	if s.Cutoff > 0 && old.Cutoff == 0 {
		select {
		case h.urgent <- struct{}{}:
		default: // a fan-out is due already
		}
	}
}

// Cutoff is a giveaway's last winning entry's sequence once it is sold
// out, 0 before (and for any other poll).
func (h *Hub) Cutoff(id string) uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	var c uint64
	if p := h.polls[id]; p != nil {
		for _, s := range p.shards {
			c = max(c, s.Cutoff)
		}
	}
	return c
}

// PollChanged marks a poll for a new frame: its state or visibility moved.
func (h *Hub) PollChanged(p schema.Poll) {
	h.mu.Lock()
	h.poll(p.ID).dirty = true
	h.mu.Unlock()
}

// Totals returns a poll's current counts, whatever their visibility.
func (h *Hub) Totals(id string) (schema.Totals, bool) {
	poll, ok := h.opts.Polls.Get(id)
	if !ok {
		return schema.Totals{}, false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return sum(&poll, h.polls[id]), true
}

func sum(poll *schema.Poll, p *pollTotals) schema.Totals {
	t := schema.Totals{Poll: poll.ID, State: poll.State, Counts: make([]int64, len(poll.Options))}
	var winners int64
	var cutoff uint64
	if p != nil {
		for _, s := range p.shards {
			for i, c := range s.Counts {
				if i < len(t.Counts) {
					t.Counts[i] += c
					t.Total += c
				}
			}
			winners, cutoff = winners+s.Winners, max(cutoff, s.Cutoff)
		}
	}
	if poll.Giveaway() {
		t.Giveaway = schema.NewGiveawayTotals(poll, winners, cutoff)
	}
	return t
}

func (h *Hub) encode(id string, p *pollTotals) []byte {
	poll, ok := h.opts.Polls.Get(id)
	if !ok {
		return nil
	}
	return schema.EncodeResults(sum(&poll, p), poll.ResultsVisible())
}

// Subscribe adds a sink to a poll's fan-out and returns the current frame
// to send first, and the function that removes the sink.
func (h *Hub) Subscribe(id string, s Sink) (first []byte, unsubscribe func()) {
	h.mu.Lock()
	p := h.poll(id)
	if p.frame == nil || p.dirty {
		p.frame = h.encode(id, p)
	}
	first = p.frame
	p.subs[s] = struct{}{}
	h.viewerN++
	h.mu.Unlock()
	h.viewers.Inc()
	var once sync.Once
	return first, func() {
		once.Do(func() {
			h.mu.Lock()
			delete(p.subs, s)
			h.viewerN--
			h.mu.Unlock()
			h.viewers.Dec()
		})
	}
}

// Viewers returns the number of subscribers per poll.
func (h *Hub) Viewers() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]int, len(h.polls))
	for id, p := range h.polls {
		if len(p.subs) > 0 {
			out[id] = len(p.subs)
		}
	}
	return out
}

// interval is the time between fan-out rounds for the current audience:
// Interval, stretched so that rounds stay within MaxDeliveries per second
// and, while votes wait for the log, within FanoutShare of the node's CPU;
// never past MaxInterval.
func (h *Hub) interval() time.Duration {
	h.mu.Lock()
	n := h.viewerN
	h.mu.Unlock()
	d := time.Duration(float64(n) / float64(h.opts.MaxDeliveries) * float64(time.Second))
	if h.opts.VotesWaiting != nil && h.opts.VotesWaiting() {
		budget := h.opts.FanoutShare * float64(runtime.GOMAXPROCS(0))
		d = max(d, time.Duration(float64(n)*float64(h.opts.DeliveryCost)/budget))
	}
	return min(max(d, h.opts.Interval), max(h.opts.MaxInterval, h.opts.Interval))
}

// fanOut encodes each changed poll's frame once and offers it to all. The
// lock covers only the encoding and a copy of the subscriber lists, not
// the offers, so Subscribe, unsubscribe and Totals never wait behind a
// whole round to every viewer.
func (h *Hub) fanOut() {
	round, sinks := h.round[:0], h.sinks[:0]
	h.mu.Lock()
	for id, p := range h.polls {
		if !p.dirty {
			continue
		}
		p.dirty = false
		p.frame = h.encode(id, p)
		if p.frame == nil || len(p.subs) == 0 {
			continue
		}
		from := len(sinks)
		for s := range p.subs {
			sinks = append(sinks, s)
		}
		round = append(round, offer{frame: p.frame, from: from, to: len(sinks)})
	}
	h.mu.Unlock()
	for _, o := range round {
		for _, s := range sinks[o.from:o.to] {
			s.Offer(o.frame)
		}
	}
	h.frames.Add(float64(len(sinks)))
	clear(sinks) // hold no viewer that leaves before the next round
	clear(round)
	h.round, h.sinks = round[:0], sinks[:0]
}

// Limits are the caps in force: totals frames per second in all, and the
// shortest interval between two frames of a poll, in milliseconds.
func (h *Hub) Limits() (maxDeliveries int, intervalMS float64) {
	return h.opts.MaxDeliveries, float64(h.opts.Interval.Microseconds()) / 1000
}
