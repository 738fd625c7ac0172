package baseline

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ten := make([]time.Duration, 10)
	for i := range ten {
		ten[i] = time.Duration(i+1) * time.Millisecond
	}
	for _, tc := range []struct {
		name    string
		samples []time.Duration
		q       float64
		want    time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one sample", []time.Duration{7}, 0.99, 7},
		{"p50 of ten is the fifth", ten, 0.50, 5 * time.Millisecond},
		{"p90 of ten is the ninth", ten, 0.90, 9 * time.Millisecond},
		{"p99 of ten is the largest", ten, 0.99, 10 * time.Millisecond},
		{"p100 is the max", ten, 1, 10 * time.Millisecond},
		{"tiny q is the min", ten, 0.0001, time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := percentile(tc.samples, tc.q); got != tc.want {
				t.Errorf("percentile(%v) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
}

func TestSetTiming(t *testing.T) {
	// 100 samples, 1..100 ms, handed over unsorted.
	var samples []time.Duration
	for i := 100; i >= 1; i-- {
		samples = append(samples, time.Duration(i)*time.Millisecond+250*time.Microsecond)
	}
	r := Result{Votes: 500}
	r.setTiming(2*time.Second, samples)
	want := Result{Votes: 500, Seconds: 2, VotesPerS: 250, P50ms: 50.25, P99ms: 99.25, MaxMs: 100.25}
	if r.Seconds != want.Seconds || r.VotesPerS != want.VotesPerS || r.P50ms != want.P50ms || r.P99ms != want.P99ms || r.MaxMs != want.MaxMs {
		t.Errorf("setTiming gave %+v, want %+v", r, want)
	}
}

func TestCheck(t *testing.T) {
	good := func() Result {
		return Result{Voters: 10, Votes: 10, DuplicatesSent: 2, DuplicatesRefused: 2,
			Counts: []int64{3, 3, 2, 2}, Accepted: []int64{3, 3, 2, 2}}
	}
	for _, tc := range []struct {
		name   string
		mutate func(*Result)
		want   string // a substring of the one problem expected; "" for none
	}{
		{"all held", func(*Result) {}, ""},
		{"a count lost", func(r *Result) { r.Counts[0]-- }, "counts sum to 9, 10 votes"},
		{"count moved to another option", func(r *Result) { r.Counts[0]--; r.Counts[1]++ }, "differ from the accepted"},
		{"a second vote accepted", func(r *Result) { r.Votes, r.DuplicatesRefused, r.Counts[0], r.Accepted[0] = 11, 1, 4, 4 }, "11 votes accepted from 10"},
		{"a vote failed", func(r *Result) { r.Errors, r.FirstError = 1, "boom" }, "the first: boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := good()
			tc.mutate(&r)
			problems := r.check()
			if tc.want == "" {
				if len(problems) != 0 {
					t.Fatalf("check found %q in a run that held", problems)
				}
				return
			}
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tc.want) }) {
				t.Fatalf("check found %q, want one containing %q", problems, tc.want)
			}
		})
	}
}

func TestPlan(t *testing.T) {
	for _, tc := range []struct {
		name             string
		voters, dupEvery int
		wantSecond       int
	}{
		{"no second votes", 500, 0, 0},
		{"one in a hundred", 2000, 100, 20},
		{"fewer voters than the lag", 30, 10, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			votes := plan(Config{Voters: tc.voters, Options: 4, DupEvery: tc.dupEvery, Seed: 1})
			first := map[string]int{} // user -> position of their first vote
			seconds := 0
			for pos, v := range votes {
				if v.option < 0 || v.option >= 4 {
					t.Fatalf("vote %d is for option %d", pos, v.option)
				}
				if !v.second {
					if _, dup := first[v.user]; dup {
						t.Fatalf("user %s has two first votes", v.user)
					}
					first[v.user] = pos
					continue
				}
				seconds++
				at, ok := first[v.user]
				if !ok {
					t.Fatalf("second vote of %s comes before its first", v.user)
				}
				if votes[at].option == v.option {
					t.Fatalf("second vote of %s is for the same option; it should try another", v.user)
				}
			}
			if len(first) != tc.voters || seconds != tc.wantSecond {
				t.Fatalf("plan has %d users and %d second votes, want %d and %d", len(first), seconds, tc.voters, tc.wantSecond)
			}
		})
	}
}
