package tally

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/votecast/votecast/schema"
)

func giveaway(prizes int, answer *int) *schema.Poll {
	return &schema.Poll{ID: "pollpollpo", Kind: schema.KindGiveaway, Options: []string{"x", "y"}, VotesPerUser: 1, Prizes: prizes, Answer: answer}
}

// The first prizes eligible entries in the log's order win: an entry on
// the wrong answer counts as an entry but cannot win, a second entry of
// a user is refused and does not move the first one's place.
func TestGiveawayWinnersAreTheFirstEligibleEntries(t *testing.T) {
	one := 1
	p := giveaway(2, &one)
	s := NewPollShard(p.ID, 0, 2)
	steps := []struct {
		seq    uint64
		user   string
		option int
		key    string
		want   Outcome
		wins   int64
		cutoff uint64
	}{
		{3, "u1", 0, "k", Counted, 0, 0}, // the wrong answer
		{5, "u2", 1, "k", Counted, 1, 0},
		{6, "u2", 1, "k2", Exhausted, 1, 0}, // a second entry
		{8, "u3", 1, "k", Counted, 2, 8},    // the last prize
		{9, "u4", 1, "k", Counted, 2, 8},    // sold out: an entry, no prize
	}
	for _, st := range steps {
		if got := s.Apply(p, st.seq, schema.Event{User: st.user, Option: st.option, Count: 1, ClientKey: st.key}); got != st.want {
			t.Fatalf("seq %d: %v, want %v", st.seq, got, st.want)
		}
		if w, c := s.Winners(); w != st.wins || c != st.cutoff {
			t.Fatalf("after seq %d: %d winners, cutoff %d; want %d, %d", st.seq, w, c, st.wins, st.cutoff)
		}
	}
	if b := s.Ballots["u2"]; b.LastSeq != 5 {
		t.Fatalf("u2's place moved to %d by a refused entry, want 5", b.LastSeq)
	}
	if !slices.Equal(s.Counts, []int64{1, 3}) {
		t.Fatalf("entries per option %v, want [1 3]", s.Counts)
	}
}

// However a crash cuts the flushes, a load then the replay of the rest
// gives the winners the log's order gives: a random log, stored in a
// random subset (a flush cut between chunks), loaded and replayed.
func TestGiveawayWinnersSurviveALoad(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for round := range 200 {
		prizes := 1 + rng.IntN(5)
		var answer *int
		if round%2 == 0 {
			a := rng.IntN(2)
			answer = &a
		}
		p := giveaway(prizes, answer)
		var events []step
		for i := range 5 + rng.IntN(15) {
			events = append(events, step{seq: uint64(2*i + 1), user: fmt.Sprintf("u%d", rng.IntN(10)), option: rng.IntN(2), count: 1, key: fmt.Sprint(i)})
		}
		full := NewPollShard(p.ID, 0, 2)
		var want []uint64 // eligible first entries, in order
		seen := map[string]bool{}
		for _, e := range events {
			full.Apply(p, e.seq, e.event())
			if !seen[e.user] {
				seen[e.user] = true
				if p.Eligible(e.option) {
					want = append(want, e.seq)
				}
			}
		}
		wantWins, wantCut := int64(min(len(want), prizes)), uint64(0)
		if len(want) >= prizes {
			wantCut = want[prizes-1]
		}
		if w, c := full.Winners(); w != wantWins || c != wantCut {
			t.Fatalf("round %d: in-order fold gives %d winners, cutoff %d; want %d, %d", round, w, c, wantWins, wantCut)
		}
		// A random subset of the ballots reached the store; the replay
		// folds every event again (the stored ones are replays).
		var stored []BallotRecord
		for _, r := range records(full) {
			if rng.IntN(2) == 0 {
				stored = append(stored, r)
			}
		}
		re := LoadPollShard(ShardState{Ballots: stored}, p)
		for _, e := range events {
			re.Apply(p, e.seq, e.event())
		}
		if w, c := re.Winners(); w != wantWins || c != wantCut {
			t.Fatalf("round %d: after a load of %d ballots and the replay, %d winners, cutoff %d; want %d, %d", round, len(stored), w, c, wantWins, wantCut)
		}
	}
}
