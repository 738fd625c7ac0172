package baseline

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Result is one run's RESULT line.
type Result struct {
	Design      string `json:"design"`
	Voters      int    `json:"voters"`
	Concurrency int    `json:"concurrency"`
	// Votes is how many votes the design accepted; every user's first
	// vote should be, so it should equal Voters.
	Votes             int64 `json:"votes"`
	DuplicatesSent    int   `json:"duplicates_sent"`
	DuplicatesRefused int64 `json:"duplicates_refused"`
	// FirstVotesRefused is how many of the refused votes were a user's
	// first, refused because their second, sent while the first was still
	// in flight, landed first: one vote per user still held.
	FirstVotesRefused int64   `json:"first_votes_refused"`
	Errors            int64   `json:"errors"`
	FirstError        string  `json:"first_error,omitempty"`
	Attempts          int     `json:"attempts"`
	Seconds           float64 `json:"seconds"`
	VotesPerS         float64 `json:"votes_per_s"`
	// Latencies are over every request, second votes included.
	P50ms float64 `json:"p50_ms"`
	P99ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
	// Counts are read back from the design; Accepted is what the clients
	// were told, per option.
	Counts   []int64           `json:"counts"`
	Accepted []int64           `json:"accepted"`
	CountsOK bool              `json:"counts_ok"`
	Problems []string          `json:"problems,omitempty"`
	Settings map[string]string `json:"settings"`
}

// percentile returns the nearest-rank q-quantile (0 < q <= 1) of sorted:
// the smallest sample with at least q of the samples at or below it, so
// every figure is a latency some vote really had. Zero when empty.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Millisecond)*1000) / 1000
}

// setTiming fills the throughput and latency figures; it sorts samples.
func (r *Result) setTiming(elapsed time.Duration, samples []time.Duration) {
	slices.Sort(samples)
	r.Seconds = math.Round(elapsed.Seconds()*1000) / 1000
	if elapsed > 0 {
		r.VotesPerS = math.Round(float64(r.Votes) / elapsed.Seconds())
	}
	r.P50ms = ms(percentile(samples, 0.50))
	r.P99ms = ms(percentile(samples, 0.99))
	if len(samples) > 0 {
		r.MaxMs = ms(samples[len(samples)-1])
	}
}

// check lists every way the run broke one vote per user or lost a count;
// none means the counts read back are exactly the votes accepted.
func (r *Result) check() []string {
	var problems []string
	var sum int64
	for _, n := range r.Counts {
		sum += n
	}
	if sum != r.Votes {
		problems = append(problems, fmt.Sprintf("counts sum to %d, %d votes were accepted", sum, r.Votes))
	}
	if !slices.Equal(r.Counts, r.Accepted) {
		problems = append(problems, fmt.Sprintf("counts %v differ from the accepted votes per option %v", r.Counts, r.Accepted))
	}
	if r.Votes != int64(r.Voters) {
		problems = append(problems, fmt.Sprintf("%d votes accepted from %d distinct users", r.Votes, r.Voters))
	}
	if r.DuplicatesRefused != int64(r.DuplicatesSent) {
		problems = append(problems, fmt.Sprintf("%d of %d second votes refused", r.DuplicatesRefused, r.DuplicatesSent))
	}
	if r.Errors > 0 {
		problems = append(problems, fmt.Sprintf("%d votes failed, the first: %s", r.Errors, r.FirstError))
	}
	return problems
}
