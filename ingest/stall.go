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
//
// Progress is a PubAck, or the stream's last sequence moving past what
// the PubAcks said: with js-sync always, nats-server can hold a spike's
// PubAcks back for seconds while it stores the messages one fsync at a
// time (10,000 votes at once here: none for 2.5 s, then all), and that
// log is moving.
type stall struct {
	after   time.Duration
	acked   atomic.Int64                  // PubAcks received, ever
	ackSeq  atomic.Uint64                 // the highest sequence a PubAck named
	release atomic.Pointer[chan struct{}] // closed when the log stalls

	// Only the janitor's goroutine touches these.
	seen    int64     // acked at the last tick
	logSeq  uint64    // the stream's last sequence when it last counted as progress
	since   time.Time // first tick of the current run without progress; zero: none
	stalled bool      // in a stalled episode (logged once)
}

// noteAck records a PubAck.
func (st *stall) noteAck(seq uint64) {
	st.acked.Add(1)
	for {
		old := st.ackSeq.Load()
		if seq <= old || st.ackSeq.CompareAndSwap(old, seq) {
			return
		}
	}
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
// publishes waiting for their PubAck. lastSeq reads the stream's last
// sequence (false when it cannot: no leader, no quorum); it is asked only
// when no PubAck came for the whole timeout.
func (st *stall) tick(now time.Time, pending int, lastSeq func() (uint64, bool)) int {
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
	if lastSeq != nil {
		if seq, ok := lastSeq(); ok && seq > max(st.ackSeq.Load(), st.logSeq) {
			// Stored, not yet acknowledged: the log moves. The next
			// timeout needs it to have moved again.
			st.logSeq, st.since = seq, now
			return stallNone
		}
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
