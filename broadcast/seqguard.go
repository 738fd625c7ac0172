package broadcast

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/votecast/votecast/schema"
)

// A snapshot's Seq is the VOTES stream sequence of the last event its tally
// folded, so a real one is never beyond the stream's last sequence. One that
// is was not made by a tally (a forgery on the TALLY subjects, or a bug)
// and, kept, would freeze its shard at made-up counts: totals never go
// back by sequence. The hub keeps the highest last sequence it has seen; a
// snapshot at or below it is applied at once, one above it is held and
// checked by refreshes of the stream's info, run by Run one at a time,
// until one covers it or HoldFor has passed. The grace matters: in a
// cluster the stream's info can lag what a tally has already read from the
// log (the chaos test and the README's cluster commands both met a
// snapshot at sequence 199 against an info of 174), and a real snapshot
// dropped would leave its shard's totals behind until the next vote there.

const (
	// maxHeldPerShard bounds what a shard holds between refreshes. The
	// highest are kept: a tally's snapshots only rise, so its newest is
	// always among them unless that many forgeries sit above it.
	maxHeldPerShard = 4
	// maxWarned bounds the poll shards remembered as already logged.
	maxWarned = 4096
	// errorGap spaces refreshes while the stream info cannot be read.
	errorGap = time.Second
)

type shardKey struct {
	poll  string
	shard int
}

// heldSnapshot is a snapshot waiting for the stream's info to cover it,
// held since a time.
type heldSnapshot struct {
	s     schema.Snapshot
	since time.Time
}

// hold keeps a snapshot for the next refresh; the caller holds h.mu.
func (h *Hub) hold(hs heldSnapshot) {
	s := hs.s
	k := shardKey{s.Poll, s.Shard}
	held := h.held[k]
	i, found := slices.BinarySearchFunc(held, s.Seq, func(x heldSnapshot, seq uint64) int { return cmp.Compare(x.s.Seq, seq) })
	if found {
		held[i].s = s // the newer of two with one sequence, as store would
	} else {
		held = slices.Insert(held, i, hs)
	}
	if len(held) > maxHeldPerShard {
		held = slices.Delete(held, 0, 1)
	}
	h.held[k] = held
	select {
	case h.wake <- struct{}{}:
	default: // a wake-up is pending already
	}
}

// takeHeld hands the held snapshots to a refresh about to start: only
// those are dropped if it finds them uncovered, since a snapshot that
// arrives later may fold an event the stream took after the info was read.
func (h *Hub) takeHeld() map[shardKey][]heldSnapshot {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.held) == 0 {
		return nil
	}
	batch := h.held
	h.held = map[shardKey][]heldSnapshot{}
	return batch
}

// settle records the stream's last sequence: the batch's snapshots it
// covers are applied, the others are held again until HoldFor has passed
// and then dropped (logged once per poll shard), and later arrivals it
// covers are applied too. Only a leader's answer drops anything (see
// leaderAnswered): a follower's last sequence is a floor of the log's.
func (h *Hub) settle(batch map[shardKey][]heldSnapshot, last uint64, byLeader bool, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.votesLast = max(h.votesLast, last)
	for k, held := range batch {
		for _, hs := range held { // ascending: the highest covered one wins
			s := hs.s
			if s.Seq <= h.votesLast {
				h.store(s)
				continue
			}
			if !byLeader || now.Sub(hs.since) < h.opts.HoldFor {
				h.hold(hs) // the stream's info may be behind: ask again
				continue
			}
			h.dropped.Inc()
			if _, ok := h.warned[k]; !ok && len(h.warned) < maxWarned {
				h.warned[k] = struct{}{}
				h.log.Warn("broadcast: ignored a snapshot beyond the votes log; no tally published it",
					"poll", k.poll, "shard", k.shard, "seq", s.Seq, "votes_last_seq", h.votesLast, "held_for", h.opts.HoldFor)
			}
		}
	}
	for k, held := range h.held {
		n := 0
		for _, hs := range held {
			if hs.s.Seq <= h.votesLast {
				h.store(hs.s)
				n++
			}
		}
		if held = held[n:]; len(held) == 0 {
			delete(h.held, k)
		} else {
			h.held[k] = held
		}
	}
}

// unsettled puts a batch back after a failed refresh, for the next one.
func (h *Hub) unsettled(batch map[shardKey][]heldSnapshot) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, held := range batch {
		for _, hs := range held {
			if hs.s.Seq <= h.votesLast {
				h.store(hs.s)
			} else {
				h.hold(hs)
			}
		}
	}
}

// refresher runs the stream-info refreshes for Run, on Run's goroutine:
// one in flight at a time, starting at most once per gap so a spike of
// snapshots costs a bounded rate of API requests.
type refresher struct {
	h        *Hub
	gap      time.Duration
	busy     bool
	next     time.Time   // no refresh starts before
	timer    *time.Timer // armed to start one at next
	done     chan refreshResult
	failures int // in a row, for logging an outage once
}

type refreshResult struct {
	batch    map[shardKey][]heldSnapshot
	last     uint64
	byLeader bool
	err      error
}

// leaderAnswered reports whether a stream info came from the stream's
// leader. While a replicated stream has no leader (its leader was just
// killed), nats-server lets a follower answer STREAM.INFO with its own
// state, which may lag what the log committed and a tally already read:
// a snapshot dropped on that answer is a real one, lost to its viewers
// until the shard's next vote (the chaos test met it on a slow machine).
// A follower applies only committed entries, so its last sequence is
// still a floor: what it covers is applied. A stream without a cluster
// names its own server as leader.
func leaderAnswered(info *jetstream.StreamInfo) bool {
	return info.Cluster == nil || info.Cluster.Leader != ""
}

func newRefresher(h *Hub) *refresher {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &refresher{h: h, gap: h.opts.Interval / 4, timer: t, done: make(chan refreshResult, 1)}
}

// kick starts a refresh if snapshots wait for one and none runs, or arms
// the timer when the gap has not passed yet.
func (r *refresher) kick(ctx context.Context) {
	if r.busy {
		return // finish kicks again
	}
	if wait := time.Until(r.next); wait > 0 {
		r.timer.Reset(wait)
		return
	}
	batch := r.h.takeHeld()
	if batch == nil {
		return
	}
	r.busy, r.next = true, time.Now().Add(r.gap)
	go func() {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		res := refreshResult{batch: batch}
		stream, err := r.h.opts.JS.Stream(ctx, schema.VotesStream) // one STREAM.INFO request
		if err != nil {
			res.err = fmt.Errorf("read stream %s: %w", schema.VotesStream, err)
		} else {
			info := stream.CachedInfo()
			res.last, res.byLeader = info.State.LastSeq, leaderAnswered(info)
		}
		r.done <- res
	}()
}

func (r *refresher) finish(ctx context.Context, res refreshResult) {
	r.busy = false
	if res.err != nil {
		r.h.unsettled(res.batch)
		r.next = time.Now().Add(errorGap)
		if r.failures++; r.failures == 1 && ctx.Err() == nil {
			r.h.log.Warn("broadcast: cannot check snapshots against the votes log; holding them", "err", res.err)
		}
	} else {
		r.h.settle(res.batch, res.last, res.byLeader, time.Now())
		r.failures = 0
	}
	r.kick(ctx)
}

// stop waits for a refresh in flight (its context has ended) and the timer.
func (r *refresher) stop() {
	r.timer.Stop()
	if r.busy {
		<-r.done
	}
}
