package schema

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestGiveawaySpec(t *testing.T) {
	one, five := 1, 5
	base := func(f func(*PollSpec)) PollSpec {
		s := PollSpec{Kind: KindGiveaway, Prizes: 100, Question: "First 100 get a coupon", Options: []string{"enter", "also enter"}}
		f(&s)
		return s
	}
	cases := []struct {
		name string
		spec PollSpec
		want string // "" valid, else part of the error
	}{
		{"a giveaway", base(func(*PollSpec) {}), ""},
		{"a quiz", base(func(s *PollSpec) { s.Answer = &one }), ""},
		{"no prizes", base(func(s *PollSpec) { s.Prizes = 0 }), "between 1 and 1000000 prizes"},
		{"too many prizes", base(func(s *PollSpec) { s.Prizes = MaxPrizes + 1 }), "between 1 and 1000000 prizes"},
		{"two entries a user", base(func(s *PollSpec) { s.VotesPerUser = 2 }), "one entry per user"},
		{"changes", base(func(s *PollSpec) { s.AllowChange = true }), "one entry per user"},
		{"an answer that is no option", base(func(s *PollSpec) { s.Answer = &five }), "answer must be"},
		{"prizes on a poll", base(func(s *PollSpec) { s.Kind = "" }), "prizes and answer are for a giveaway"},
		{"an unknown kind", base(func(s *PollSpec) { s.Kind = "raffle" }), "kind must be"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.spec.Normalize()
			if tc.want == "" && err != nil || tc.want != "" && (!errors.Is(err, ErrInvalidPoll) || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("%v, want %q", err, tc.want)
			}
		})
	}
	s := base(func(s *PollSpec) { s.Answer = &one })
	if err := s.Normalize(); err != nil {
		t.Fatal(err)
	}
	p := NewPoll(NewPollID(), s, DefaultShards, time.Now())
	if p.Shards != 1 || !p.Giveaway() || p.Prizes != 100 || p.Eligible(0) || !p.Eligible(1) {
		t.Fatalf("giveaway %+v: want one shard, 100 prizes, only option 1 eligible", p)
	}
}
