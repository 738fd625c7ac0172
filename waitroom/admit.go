package waitroom

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// edgeReport is one edge's free slots, as it last reported them. The
// edges bucket's TTL drops a silent edge's entry without telling
// watchers, so a report also carries its time and old ones are ignored.
type edgeReport struct {
	Free int   `json:"free"`
	At   int64 `json:"at"` // Unix milliseconds
}

// reportEvery is how often an edge reports its free slots, and the
// window in which the admitter lets in no more than they said: as often as
// the admitter runs, so a slot freed is offered within a fifth of a second
// (a memory write per edge each time). A report older than staleAfter is
// ignored.
const (
	reportEvery = 200 * time.Millisecond
	staleAfter  = 5 * time.Second
)

// Run keeps this edge's view of the room current and takes its turn at
// admitting, until ctx ends.
func (r *Room) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { r.watch(ctx, r.state, stateKey) })
	wg.Go(func() { r.watch(ctx, r.edges, ">") })
	wg.Go(func() { r.loop(ctx) })
	wg.Wait()
}

// watch applies every change of a bucket's keys until ctx ends,
// starting the watch again if it breaks.
func (r *Room) watch(ctx context.Context, kv jetstream.KeyValue, keys string) {
	for ctx.Err() == nil {
		w, err := kv.Watch(ctx, keys)
		if err != nil {
			r.log.Warn("waiting room: watch a bucket; trying again", "bucket", kv.Bucket(), "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		for e := range w.Updates() {
			if e == nil || e.Operation() != jetstream.KeyValuePut {
				continue
			}
			if kv == r.state {
				st, err := decodeState(e.Value())
				if err != nil {
					r.log.Warn("waiting room: ignore a state it cannot read", "err", err)
					continue
				}
				r.keep(st, e.Revision())
				continue
			}
			var rep edgeReport
			if json.Unmarshal(e.Value(), &rep) == nil {
				r.noteReport(e.Key(), rep)
			}
		}
		_ = w.Stop()
	}
}

// loop reports this edge's free slots and takes a turn at admitting.
func (r *Room) loop(ctx context.Context) {
	tick := time.NewTicker(r.opts.Tick)
	defer tick.Stop()
	var reported time.Time
	var lastErr string
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := r.opts.Now()
		if now.Sub(reported) >= reportEvery {
			rep := edgeReport{Free: max(r.opts.Free(), 0), At: now.UnixMilli()}
			b, _ := json.Marshal(rep)
			if _, err := r.edges.Put(ctx, r.opts.Edge, b); err == nil {
				reported = now
				// This edge's own turn below must count what it just
				// said, not the older report its watch still holds: a
				// node that filled up would otherwise let in a window's
				// worth more on slots it no longer has.
				r.noteReport(r.opts.Edge, rep)
			}
		}
		err := r.step(ctx)
		// One line per new failure, not one per tick.
		switch {
		case err != nil && err.Error() != lastErr && ctx.Err() == nil:
			r.log.Warn("waiting room: admitting failed; retrying every tick", "err", err)
			lastErr = err.Error()
		case err == nil && lastErr != "":
			r.log.Info("waiting room: admitting again")
			lastErr = ""
		}
	}
}

// noteReport keeps an edge's report unless a later one is kept already
// (the watch may deliver this edge's own report after the loop noted it).
func (r *Room) noteReport(edge string, rep edgeReport) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.free[edge]; !ok || rep.At >= old.At {
		r.free[edge] = rep
	}
}

// freeSlots sums the fresh reports of every edge.
func (r *Room) freeSlots(now time.Time) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, rep := range r.free {
		if now.UnixMilli()-rep.At <= staleAfter.Milliseconds() {
			n += rep.Free
		}
	}
	return n
}

// step advances the serving position by what the rate allows since it
// last moved, at most one second's worth (credit does not pile up while
// nobody waits), at most the places given and at most the free slots the
// edges reported for the window. A compare-and-set on the state's
// revision: of the edges that try in the same interval, one wins and the
// others read its result.
func (r *Room) step(ctx context.Context) error {
	info, err := r.stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("read the line's length: %w", err)
	}
	r.noteLast(info.State.LastSeq)
	if info.State.LastSeq <= r.State().Serving {
		// Nobody waits (the watched position only lags, never leads):
		// no read of the state, which every edge would do every tick.
		return nil
	}
	st, rev, err := r.readState(ctx)
	if err != nil {
		return err
	}
	now := r.opts.Now()
	next, ok := advance(st, info.State.LastSeq, r.freeSlots(now), now)
	if !ok {
		return nil
	}
	b, _ := json.Marshal(next)
	rev, err = r.state.Update(ctx, stateKey, b, rev)
	if err != nil {
		if isConflict(err) {
			return nil // another edge moved it first
		}
		return fmt.Errorf("move the serving position: %w", err)
	}
	r.keep(next, rev)
	return nil
}

// advance is the admission rule, apart from NATS: the next state, or
// false when nothing moves.
func advance(st State, last uint64, free int, now time.Time) (State, bool) {
	if last <= st.Serving || st.Rate <= 0 || free <= 0 {
		return st, false
	}
	elapsed := float64(now.UnixMilli()-st.At) / 1000
	credit, capped := st.Rate*elapsed, false
	if burst := max(st.Rate, 1); credit > burst {
		credit, capped = burst, true
	}
	n := uint64(credit)
	if n == 0 {
		return st, false
	}
	if n > last-st.Serving {
		n, capped = last-st.Serving, true
	}
	// The free slots are the last reports: within a report's window,
	// let in no more than they said, whatever the ticks.
	if now.UnixMilli()-st.WinAt >= reportEvery.Milliseconds() {
		st.WinAt, st.WinN = now.UnixMilli(), 0
	}
	if st.WinN >= uint64(free) {
		return st, false
	}
	if n > uint64(free)-st.WinN {
		n, capped = uint64(free)-st.WinN, true
	}
	st.Serving += n
	st.Admitted += n
	st.WinN += n
	if capped {
		st.At = now.UnixMilli()
	} else {
		// Keep the fraction of a viewer the rate earned, so the rate
		// holds over time at any tick.
		st.At += int64(float64(n) / st.Rate * 1000)
	}
	return st, true
}
