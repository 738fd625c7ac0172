package ingest

import (
	"sync/atomic"
	"time"
)

// stall notices a log that acknowledges nothing while votes wait for it:
// a stream that lost its quorum, or a leader that died with publishes in
// flight. PublishTimeout alone would keep a viewer holding a phone for
// seconds on end; progress, not latency, is the signal, so a log that is
// slow but moving (a spike on one fsyncing node) never trips it.
type stall struct {
	after   time.Duration
	acked   atomic.Int64                  // PubAcks received, ever
	release atomic.Pointer[chan struct{}] // closed when the log stalls

	// Only the janitor's goroutine touches these.
	seen    int64     // acked at the last tick
	since   time.Time // first tick of the current run without progress; zero: none
	stalled bool      // in a stalled episode (logged once)
}

func newStall(after time.Duration) *stall {
	st := &stall{after: after}
	ch := make(chan struct{})
	st.release.Store(&ch)
	return st
}

// wait returns the channel closed at the next stall; take it before
// publishing, so a stall that comes later releases this vote too.
func (st *stall) wait() <-chan struct{} { return *st.release.Load() }

// Events of a tick.
const (
	stallNone      = iota
	stallStarted   // the log stalled: those waiting were released (log it)
	stallContinued // still no PubAck: those waiting since were released
	stallEnded     // PubAcks again after a stall
)

// tick is called every few hundred milliseconds with the number of
// publishes waiting for their PubAck.
func (st *stall) tick(now time.Time, pending int) int {
	acked := st.acked.Load()
	progress := acked != st.seen
	st.seen = acked
	if progress || pending == 0 {
		st.since = time.Time{}
		if progress && st.stalled {
			st.stalled = false
			return stallEnded
		}
		return stallNone
	}
	if st.since.IsZero() {
		st.since = now
		return stallNone
	}
	if now.Sub(st.since) < st.after {
		return stallNone
	}
	next := make(chan struct{})
	close(*st.release.Swap(&next))
	st.since = time.Time{}
	if st.stalled {
		return stallContinued
	}
	st.stalled = true
	return stallStarted
}
