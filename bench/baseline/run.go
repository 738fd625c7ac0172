package baseline

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// Config is one run: Voters distinct users, each voting once, plus a second
// vote from every DupEvery-th of them that the design must refuse.
type Config struct {
	Design      string
	Poll        string
	Voters      int
	Concurrency int
	Options     int
	// DupEvery makes every DupEvery-th user vote a second time, for
	// another option; 0 sends no second votes.
	DupEvery int
	// Seed picks each user's option, so runs of two designs vote the same.
	Seed uint64
}

// vote is one request a client sends.
type vote struct {
	index  int // the user's, which names them
	user   string
	option int
	second bool // a second vote of a user who already voted
}

// dupLag is how many votes later a user's second vote is sent: close
// enough that with tens of clients the two can be in flight together (the
// design must refuse one of them either way), far enough that usually the
// first has landed.
const dupLag = 50

// plan lays out every vote in sending order. A second vote goes dupLag
// votes after its user's first; the last users' second votes go at the end.
func plan(cfg Config) []vote {
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	var out []vote
	var pending []vote
	for i := range cfg.Voters {
		v := vote{index: i, user: fmt.Sprintf("user-%07d", i), option: rng.IntN(cfg.Options)}
		out = append(out, v)
		if cfg.DupEvery > 0 && i%cfg.DupEvery == cfg.DupEvery-1 {
			pending = append(pending, vote{index: i, user: v.user, option: (v.option + 1) % cfg.Options, second: true})
		}
		for len(pending) > 0 && i-pending[0].index >= dupLag {
			out = append(out, pending[0])
			pending = pending[1:]
		}
	}
	return append(out, pending...)
}

// tally is what one client saw; each client owns its own, merged at the end.
type tally struct {
	accepted []int64
	refused  int64
	// firstRefused counts refused votes that were a user's first: their
	// second vote, in flight at the same time, was accepted instead.
	firstRefused int64
	errors       int64
	firstErr     error
	latencies    []time.Duration
}

// Run resets the poll, sends the plan's votes from cfg.Concurrency clients
// at once, reads the counts back and checks them.
func Run(ctx context.Context, d Design, cfg Config) (Result, error) {
	if cfg.Voters <= 0 || cfg.Concurrency <= 0 || cfg.Options <= 0 {
		return Result{}, fmt.Errorf("voters, concurrency and options must be positive (got %d, %d, %d)", cfg.Voters, cfg.Concurrency, cfg.Options)
	}
	if err := d.Reset(ctx, cfg.Poll, cfg.Options); err != nil {
		return Result{}, fmt.Errorf("resetting poll %s: %w", cfg.Poll, err)
	}
	settings, err := d.Settings(ctx)
	if err != nil {
		return Result{}, err
	}
	votes := plan(cfg)
	jobs := make(chan vote)
	tallies := make([]tally, cfg.Concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range tallies {
		t := &tallies[i]
		t.accepted = make([]int64, cfg.Options)
		t.latencies = make([]time.Duration, 0, len(votes)/cfg.Concurrency+1)
		wg.Go(func() {
			for v := range jobs {
				began := time.Now()
				ok, err := d.Vote(ctx, cfg.Poll, v.user, v.option)
				t.latencies = append(t.latencies, time.Since(began))
				switch {
				case err != nil:
					t.errors++
					if t.firstErr == nil {
						t.firstErr = fmt.Errorf("vote of %s: %w", v.user, err)
					}
				case ok:
					t.accepted[v.option]++
				default:
					t.refused++
					if !v.second {
						t.firstRefused++
					}
				}
			}
		})
	}
send:
	for _, v := range votes {
		select {
		case jobs <- v:
		case <-ctx.Done():
			break send
		}
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("sending votes: %w", err)
	}

	r := Result{
		Design:         cfg.Design,
		Voters:         cfg.Voters,
		Concurrency:    cfg.Concurrency,
		Attempts:       len(votes),
		DuplicatesSent: len(votes) - cfg.Voters,
		Accepted:       make([]int64, cfg.Options),
		Settings:       settings,
	}
	var all []time.Duration
	for _, t := range tallies {
		for o, n := range t.accepted {
			r.Accepted[o] += n
			r.Votes += n
		}
		r.DuplicatesRefused += t.refused
		r.FirstVotesRefused += t.firstRefused
		r.Errors += t.errors
		if t.firstErr != nil && r.FirstError == "" {
			r.FirstError = t.firstErr.Error()
		}
		all = append(all, t.latencies...)
	}
	r.setTiming(elapsed, all)
	if r.Counts, err = d.Counts(ctx, cfg.Poll, cfg.Options); err != nil {
		return Result{}, fmt.Errorf("reading back poll %s: %w", cfg.Poll, err)
	}
	r.Problems = r.check()
	r.CountsOK = len(r.Problems) == 0
	return r, nil
}
