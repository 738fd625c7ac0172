package tally

import (
	"fmt"
	"slices"
	"testing"

	"github.com/votecast/votecast/schema"
)

type step struct {
	seq    uint64
	user   string
	option int
	count  int
	close  bool
	key    string // client key; zero value: one of its own per sequence
	want   Outcome
}

// event is the step as a log event.
func (st step) event() schema.Event {
	key := st.key
	if key == "" {
		key = fmt.Sprintf("k%d", st.seq)
	}
	return schema.Event{Close: st.close, User: st.user, Option: st.option, Count: st.count, ClientKey: key}
}

func vote(seq uint64, user string, option, count int, want Outcome) step {
	return step{seq: seq, user: user, option: option, count: count, want: want}
}

// applySteps folds the steps into a new shard of a three-option poll,
// checking each outcome and then the counts.
func applySteps(t *testing.T, p *schema.Poll, steps []step, wantCounts []int64) *PollShard {
	t.Helper()
	s := NewPollShard(p.ID, 0, 3)
	for i, st := range steps {
		if got := s.Apply(p, st.seq, st.event()); got != st.want {
			t.Fatalf("step %d (%+v): outcome %v, want %v", i, st, got, st.want)
		}
	}
	if !slices.Equal(s.Counts, wantCounts) {
		t.Fatalf("counts = %v, want %v", s.Counts, wantCounts)
	}
	return s
}

func TestApply(t *testing.T) {
	tests := []struct {
		name       string
		budget     int
		change     bool
		steps      []step
		wantCounts []int64
	}{
		{"one vote: second is exhausted", 1, false, []step{
			vote(1, "a", 0, 1, Counted),
			vote(2, "a", 1, 1, Exhausted),
			vote(3, "b", 1, 1, Counted),
		}, []int64{1, 1, 0}},
		{"one vote: replayed sequence is skipped", 1, false, []step{
			vote(5, "a", 2, 1, Counted),
			vote(5, "a", 2, 1, Replay),
			vote(4, "a", 2, 1, Replay),
		}, []int64{0, 0, 1}},
		{"one vote: count must be 1", 1, false, []step{
			vote(1, "a", 0, 2, Invalid),
			vote(2, "a", 0, 0, Invalid),
			vote(3, "a", 0, 1, Counted),
		}, []int64{1, 0, 0}},
		{"invalid option leaves the ballot alone", 1, false, []step{
			vote(1, "a", 7, 1, Invalid),
			vote(2, "a", 1, 1, Counted),
		}, []int64{0, 1, 0}},
		{"change allowed: vote moves", 1, true, []step{
			vote(1, "a", 0, 1, Counted),
			vote(2, "a", 2, 1, Counted),
			vote(3, "a", 2, 1, Unchanged),
			vote(4, "b", 2, 1, Counted),
		}, []int64{0, 0, 2}},
		{"change allowed: count 0 takes back only that option", 1, true, []step{
			vote(1, "a", 1, 1, Counted),
			vote(2, "a", 0, 0, Unchanged),
			vote(3, "a", 1, 0, Counted),
		}, []int64{0, 0, 0}},
		{"budget: adds up to the budget", 3, false, []step{
			vote(1, "a", 0, 2, Counted),
			vote(2, "a", 1, 2, Exhausted),
			vote(3, "a", 1, 1, Counted),
			vote(4, "a", 2, 1, Exhausted),
		}, []int64{2, 1, 0}},
		{"budget with change: a vote sets the share", 3, true, []step{
			vote(1, "a", 0, 3, Counted),
			vote(2, "a", 1, 1, Exhausted),
			vote(3, "a", 0, 1, Counted),
			vote(4, "a", 1, 2, Counted),
			vote(5, "a", 1, 2, Unchanged),
		}, []int64{1, 2, 0}},
		{"votes after the close marker do not count", 1, false, []step{
			vote(1, "a", 0, 1, Counted),
			{seq: 2, close: true, want: Marker},
			vote(3, "b", 0, 1, Late),
			{seq: 2, close: true, want: Marker},
		}, []int64{1, 0, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &schema.Poll{ID: "pollpollpo", Options: []string{"x", "y", "z"}, VotesPerUser: tc.budget, AllowChange: tc.change}
			s := applySteps(t, p, tc.steps, tc.wantCounts)
			// The counts must be what the ballots add up to, which is
			// what a load from the store recomputes.
			re := LoadPollShard(ShardState{Ballots: records(s)}, p)
			if !slices.Equal(re.Counts, s.Counts) {
				t.Fatalf("recomputed counts = %v, want %v", re.Counts, s.Counts)
			}
		})
	}
}

func records(s *PollShard) []BallotRecord {
	var out []BallotRecord
	for u, b := range s.Ballots {
		out = append(out, BallotRecord{User: u, LastSeq: b.LastSeq, Choices: b.Choices})
	}
	return out
}

// TestReplayAfterPartialFlush plays the crash the design must survive: a
// flush wrote some ballots and not others, then the whole batch is
// redelivered. Counts must come out exact.
func TestReplayAfterPartialFlush(t *testing.T) {
	p := &schema.Poll{ID: "pollpollpo", Options: []string{"x", "y"}, VotesPerUser: 1, AllowChange: true}
	events := []step{
		vote(1, "a", 0, 1, Counted), vote(2, "b", 1, 1, Counted),
		vote(3, "a", 1, 1, Counted), vote(4, "c", 0, 1, Counted),
	}
	full := NewPollShard(p.ID, 0, 2)
	for i, e := range events {
		if got := full.Apply(p, e.seq, e.event()); got != e.want {
			t.Fatalf("first fold, step %d (%+v): outcome %v, want %v", i, e, got, e.want)
		}
	}
	// a moved to y, b is on y, c is on x.
	if want := []int64{1, 2}; !slices.Equal(full.Counts, want) {
		t.Fatalf("first fold counts = %v, want %v", full.Counts, want)
	}
	// Only "a" made it to the store before the crash, as of its move.
	stored := []BallotRecord{{User: "a", LastSeq: 3, Choices: []Choice{{Option: 1, Count: 1}}}}
	if a := full.Ballots["a"]; a.LastSeq != 3 || !slices.Equal(a.Choices, stored[0].Choices) {
		t.Fatalf("first fold left a at %+v, want %+v", *a, stored[0])
	}
	re := LoadPollShard(ShardState{Ballots: stored}, p)
	// The redelivered batch: a's events are behind its stored register,
	// b and c were never stored and count again from nothing.
	replay := []Outcome{Replay, Counted, Replay, Counted}
	for i, e := range events {
		if got := re.Apply(p, e.seq, e.event()); got != replay[i] {
			t.Fatalf("replay, step %d (%+v): outcome %v, want %v", i, e, got, replay[i])
		}
	}
	if want := []int64{1, 2}; !slices.Equal(re.Counts, want) {
		t.Fatalf("after replay counts = %v, want %v", re.Counts, want)
	}
}

func TestTakeChanges(t *testing.T) {
	p := &schema.Poll{ID: "pollpollpo", Options: []string{"x", "y"}, VotesPerUser: 1}
	s := NewPollShard(p.ID, 0, 2)
	s.Apply(p, 1, schema.Event{User: "a", Option: 0, Count: 1, ClientKey: "k1"})
	s.Apply(p, 2, schema.Event{User: "a", Option: 1, Count: 1, ClientKey: "k2"}) // exhausted: register still moves
	ch := s.TakeChanges()
	if len(ch) != 1 || ch[0].LastSeq != 2 || ch[0].Choices[0].Option != 0 {
		t.Fatalf("changes = %+v, want a at seq 2 on option 0", ch)
	}
	if s.Dirty() {
		t.Fatal("still dirty after TakeChanges")
	}
	s.redirty(ch)
	if !s.Dirty() {
		t.Fatal("redirty did not mark the ballots again")
	}
}

func BenchmarkApply(b *testing.B) {
	p := &schema.Poll{ID: "pollpollpo", Options: []string{"a", "b", "c", "d"}, VotesPerUser: 1}
	s := NewPollShard(p.ID, 0, 4)
	users := make([]string, 1<<16)
	for i := range users {
		users[i] = "user-" + string(rune('a'+i%26)) + string(rune(i))
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s.Apply(p, uint64(i+1), schema.Event{User: users[i%len(users)], Option: i % 4, Count: 1})
	}
}
