package tally

import (
	"fmt"
	"slices"
	"testing"

	"github.com/votecast/votecast/schema"
)

// TestResendIsRecognisedForTheLifeOfThePoll: a frame resent with a client
// key the ballot already applied never changes a count and never moves a
// vote back, however late it comes (long after JetStream's duplicate
// window, so it really is in the log twice), on every kind of poll.
func TestResendIsRecognisedForTheLifeOfThePoll(t *testing.T) {
	late := uint64(1_000_000) // far past the first event
	tests := []struct {
		name       string
		budget     int
		change     bool
		steps      []step
		wantCounts []int64
	}{
		{"one vote", 1, false, []step{
			{seq: 1, user: "a", option: 0, count: 1, key: "k1", want: Counted},
			{seq: late, user: "a", option: 0, count: 1, key: "k1", want: Resend},
		}, []int64{1, 0, 0}},
		{"budget of 3: a late resend does not add a vote", 3, false, []step{
			{seq: 1, user: "a", option: 0, count: 1, key: "k1", want: Counted},
			{seq: late, user: "a", option: 0, count: 1, key: "k1", want: Resend},
		}, []int64{1, 0, 0}},
		{"change allowed: a late resend does not move the vote back", 1, true, []step{
			{seq: 1, user: "a", option: 0, count: 1, key: "k1", want: Counted},
			{seq: 2, user: "a", option: 1, count: 1, key: "k2", want: Counted},
			{seq: late, user: "a", option: 0, count: 1, key: "k1", want: Resend},
		}, []int64{0, 1, 0}},
		{"change allowed: an unchanged vote's resend after a move", 1, true, []step{
			{seq: 1, user: "a", option: 0, count: 1, key: "k1", want: Counted},
			{seq: 2, user: "a", option: 0, count: 1, key: "k2", want: Unchanged},
			{seq: 3, user: "a", option: 1, count: 1, key: "k3", want: Counted},
			{seq: late, user: "a", option: 0, count: 1, key: "k2", want: Resend},
		}, []int64{0, 1, 0}},
		{"budget with change: a refused share's resend after a take-back", 3, true, []step{
			{seq: 1, user: "a", option: 0, count: 3, key: "k1", want: Counted},
			{seq: 2, user: "a", option: 1, count: 1, key: "k2", want: Exhausted},
			{seq: 3, user: "a", option: 0, count: 0, key: "k3", want: Counted},
			{seq: late, user: "a", option: 1, count: 1, key: "k2", want: Resend},
		}, []int64{0, 0, 0}},
		{"another user's key is not a resend", 1, false, []step{
			{seq: 1, user: "a", option: 0, count: 1, key: "k1", want: Counted},
			{seq: 2, user: "b", option: 1, count: 1, key: "k1", want: Counted},
		}, []int64{1, 1, 0}},
		{"a replayed sequence is still a replay", 3, false, []step{
			{seq: 7, user: "a", option: 2, count: 1, key: "k1", want: Counted},
			{seq: 7, user: "a", option: 2, count: 1, key: "k1", want: Replay},
		}, []int64{0, 0, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &schema.Poll{ID: "pollpollpo", Options: []string{"x", "y", "z"}, VotesPerUser: tc.budget, AllowChange: tc.change}
			applySteps(t, p, tc.steps, tc.wantCounts)
		})
	}
}

// TestKeysSurviveAFlushAndALoad: the keys are part of the stored ballot,
// so a new owner that loads the shard still recognises a resend.
func TestKeysSurviveAFlushAndALoad(t *testing.T) {
	p := &schema.Poll{ID: "pollpollpo", Options: []string{"x", "y"}, VotesPerUser: 1, AllowChange: true}
	s := NewPollShard(p.ID, 0, 2)
	s.Apply(p, 1, schema.Event{User: "a", Option: 0, Count: 1, ClientKey: "k1"})
	s.Apply(p, 2, schema.Event{User: "a", Option: 1, Count: 1, ClientKey: "k2"})
	re := LoadPollShard(ShardState{Header: s.Header(), Ballots: s.TakeChanges()}, p)
	if got := re.Apply(p, 3, schema.Event{User: "a", Option: 0, Count: 1, ClientKey: "k1"}); got != Resend {
		t.Fatalf("resend after load: %v, want resend", got)
	}
	if !slices.Equal(re.Counts, []int64{0, 1}) {
		t.Fatalf("counts after load and resend = %v, want [0 1]", re.Counts)
	}
}

// TestKeyMemoryIsBounded holds the bound the README states: a ballot of a
// poll without changes keeps at most VotesPerUser keys, one with changes
// at most MaxFramesPerUser, and frames past that are exhausted.
func TestKeyMemoryIsBounded(t *testing.T) {
	tests := []struct {
		name     string
		budget   int
		change   bool
		frames   int
		wantKeys int
	}{
		{"one vote", 1, false, 50, 1},
		{"budget of 3", 3, false, 50, 3},
		{"change allowed", 1, true, 3 * MaxFramesPerUser, MaxFramesPerUser},
		{"budget with change", 5, true, 3 * MaxFramesPerUser, MaxFramesPerUser},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &schema.Poll{ID: "pollpollpo", Options: []string{"x", "y"}, VotesPerUser: tc.budget, AllowChange: tc.change}
			s := NewPollShard(p.ID, 0, 2)
			var last Outcome
			for i := range tc.frames {
				last = s.Apply(p, uint64(i+1), schema.Event{User: "a", Option: i % 2, Count: 1, ClientKey: fmt.Sprintf("k%d", i)})
			}
			if n := len(s.Ballots["a"].Keys); n != tc.wantKeys {
				t.Fatalf("ballot keeps %d keys, want %d", n, tc.wantKeys)
			}
			if last != Exhausted {
				t.Fatalf("frame past the bound: %v, want exhausted", last)
			}
		})
	}
}

// TestLoadRewritesAHeaderBehindItsBallots: a flush cut between ballots
// and header leaves the header short; the loaded shard must write it
// again even when nothing new is folded.
func TestLoadRewritesAHeaderBehindItsBallots(t *testing.T) {
	st := ShardState{
		Header:  ShardHeader{Poll: "pollpollpo", Shard: 0, LastSeq: 1, Counts: []int64{1, 0}},
		Ballots: []BallotRecord{{User: "a", LastSeq: 1, Choices: []Choice{{Option: 0, Count: 1}}}, {User: "b", LastSeq: 2, Choices: []Choice{{Option: 1, Count: 1}}}},
	}
	p := &schema.Poll{ID: "pollpollpo", Options: []string{"x", "y"}, VotesPerUser: 1}
	s := LoadPollShard(st, p)
	if !s.headerDirty {
		t.Fatal("a header behind its ballots is not marked to be written again")
	}
	if h := s.Header(); h.LastSeq != 2 || !slices.Equal(h.Counts, []int64{1, 1}) {
		t.Fatalf("header to write = %+v, want seq 2 with [1 1]", h)
	}
	clean := LoadPollShard(ShardState{Header: s.Header(), Ballots: st.Ballots}, p)
	if clean.headerDirty {
		t.Fatal("a header that matches its ballots is marked to be written again")
	}
}
