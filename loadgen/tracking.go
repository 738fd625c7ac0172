package loadgen

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/votecast/votecast/schema"
)

// Final answers that are not server statuses.
const (
	statusUnsent       = "unsent"       // the frame could not be written
	statusDisconnected = "disconnected" // the connection ended before the answer
	statusErrorFrame   = "error_frame"  // the server answered with an error frame
	// statusCountedResend is "duplicate: already counted": a frame resent
	// after a retry that the log already holds. The vote counts, as a
	// real client shows it.
	statusCountedResend = "counted_resend"
)

// counted is how many votes the log holds among the answers.
func counted(statuses map[string]int) int {
	return statuses[schema.StatusAccepted] + statuses[statusCountedResend]
}

// voteTracker collects the final answers of a set of votes.
type voteTracker struct {
	mu       sync.Mutex
	want     int
	statuses map[string]int
	accepted [][]int64  // per poll index, per option
	ack      *Latencies // last send -> final answer
	full     *Latencies // first send -> final answer, retries included
	// ack split: voters with a socket, voters in the waiting room
	ackSocket, ackLine *Latencies
	lastAck            int64
	// acceptedAt and acceptedLat are the time (run clock) and the ack
	// latency of each counted answer, for the timeline.
	acceptedAt  []int64
	acceptedLat []time.Duration
	retries     int
	done        chan struct{}
	sent        atomic.Int64 // votes sent a first time, for the progress line
}

func newVoteTracker(want, polls, options int) *voteTracker {
	accepted := make([][]int64, polls)
	for i := range accepted {
		accepted[i] = make([]int64, options)
	}
	t := &voteTracker{want: want, statuses: map[string]int{}, accepted: accepted,
		ack: NewLatencies(), full: NewLatencies(), ackSocket: NewLatencies(), ackLine: NewLatencies(), done: make(chan struct{})}
	if want == 0 {
		close(t.done)
	}
	return t
}

func (t *voteTracker) answer(v *viewer, status string, now int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.statuses[status]++
	switch status {
	case schema.StatusAccepted, statusCountedResend:
		t.accepted[v.poll.index][v.option]++
		t.acceptedAt = append(t.acceptedAt, now)
		t.acceptedLat = append(t.acceptedLat, time.Duration(now-v.lastSent.Load()))
		fallthrough
	case schema.StatusDuplicate, schema.StatusRejected:
		lat := time.Duration(now - v.lastSent.Load())
		if v.line != nil {
			t.ackLine.Record(lat)
		} else {
			t.ackSocket.Record(lat)
		}
		t.ack.Record(lat)
		t.full.Record(time.Duration(now - v.firstSent.Load()))
		t.lastAck = max(t.lastAck, now)
	}
	if t.want--; t.want == 0 {
		close(t.done)
	}
}

func (t *voteTracker) retried() {
	t.mu.Lock()
	t.retries++
	t.mu.Unlock()
}

// counts returns how many answers are still awaited, how many votes are
// counted and the ack latency's p99 so far.
func (t *voteTracker) counts() (pending, accepted int, p99 time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.want, counted(t.statuses), t.ack.Percentile(0.99)
}

// round is one fan-out measurement: done closes when every viewer has seen
// a results frame with a total of at least its poll's target (or has
// gone).
type round struct {
	id        int64
	targets   []int64 // by poll index
	remaining atomic.Int64
	done      chan struct{}
}

// fanout tracks the current round. Readers call observe on every results
// frame; the run arms a round and then observes every viewer once itself,
// so a viewer that saw the target before the round was armed counts too.
type fanout struct {
	cur    atomic.Pointer[round]
	rounds atomic.Int64
}

func (f *fanout) arm(targets []int64, vs []*viewer) *round {
	r := &round{id: f.rounds.Add(1), targets: targets, done: make(chan struct{})}
	r.remaining.Store(int64(len(vs)))
	if len(vs) == 0 {
		close(r.done)
	}
	f.cur.Store(r)
	for _, v := range vs {
		if v.gone.Load() {
			f.count(r, v)
		} else {
			f.observe(v)
		}
	}
	return r
}

func (f *fanout) observe(v *viewer) {
	if r := f.cur.Load(); r != nil && v.total.Load() >= r.targets[v.poll.index] {
		f.count(r, v)
	}
}

// count takes v off the round's remaining viewers, once.
func (f *fanout) count(r *round, v *viewer) {
	for {
		old := v.counted.Load()
		if old == r.id {
			return
		}
		if v.counted.CompareAndSwap(old, r.id) {
			if r.remaining.Add(-1) == 0 {
				close(r.done)
			}
			return
		}
	}
}
