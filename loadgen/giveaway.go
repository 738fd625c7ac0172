package loadgen

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/votecast/votecast/identity"
	"github.com/votecast/votecast/schema"
)

// GiveawayReport is what a giveaway run checked: every entrant was told
// its outcome (the sold-out frame's cutoff against its receipt), exactly
// Prizes won, and the server's outcome endpoint agreed for each winner
// and a sample of the others.
type GiveawayReport struct {
	Prizes  int `json:"prizes"`
	Entries int `json:"entries"` // accepted entries, each with a receipt
	Winners int `json:"winners"`
	Lost    int `json:"lost"`
	// Cutoff is the last winning entry's log sequence.
	Cutoff uint64 `json:"cutoff"`
	// ToldMS is from the last prize's answer to the last entrant shown
	// the giveaway sold out: how long entrants waited for their outcome.
	ToldMS float64 `json:"told_ms"`
	// LateWinners is the fairness figure: winners who sent their entry
	// later than some entrant who lost did (0 is first come, first
	// served to the nanosecond of the client's clock).
	LateWinners int `json:"late_winners"`
	// Claims are the claim codes the outcome endpoint gave, and Checked
	// how many outcomes were asked for (every winner, up to 100 others).
	Claims  int `json:"claims"`
	Checked int `json:"checked"`
}

// sawCutoff keeps a sold-out giveaway's cutoff, the first time.
func (v *viewer) sawCutoff(c uint64) {
	if c > 0 && v.cutoff.Load() == 0 {
		v.cutoffAt.Store(v.r.now())
		v.cutoff.Store(c)
	}
}

// outcomes waits until every entrant connected has been told the outcome
// and checks there are exactly as many winners as prizes.
func (r *run) outcomes(ctx context.Context) {
	g := &GiveawayReport{Prizes: r.cfg.Giveaway}
	r.rep.Giveaway = g
	var entrants []*viewer
	for _, v := range r.voters {
		if v.seq.Load() > 0 {
			entrants = append(entrants, v)
		}
	}
	g.Entries = len(entrants)
	if g.Entries < g.Prizes {
		// Not sold out: every entry wins, and the giveaway's close says so.
		g.Winners = g.Entries
		return
	}
	waiting := func() int {
		n := 0
		for _, v := range entrants {
			if v.cutoff.Load() == 0 && !v.gone.Load() {
				n++
			}
		}
		return n
	}
	stop := r.progress("outcomes", func() string { return fmt.Sprintf("%d entrants not yet shown the giveaway sold out", waiting()) })
	ctx2, cancel := context.WithTimeout(ctx, r.cfg.PhaseTimeout)
	for waiting() > 0 && ctx2.Err() == nil {
		select {
		case <-ctx2.Done():
		case <-time.After(20 * time.Millisecond): // polling a condition, with a deadline
		}
	}
	cancel()
	stop()
	if n := waiting(); n > 0 {
		r.rep.fail("%d entrants were not shown the giveaway sold out within %s", n, r.cfg.PhaseTimeout)
		return
	}
	g.Cutoff = entrants[0].cutoff.Load()
	var lastPrize *viewer
	var lastTold int64
	for _, v := range entrants {
		if c := v.cutoff.Load(); c != g.Cutoff {
			r.rep.fail("entrants were shown different cutoffs: %d and %d", g.Cutoff, c)
			return
		}
		if v.seq.Load() <= g.Cutoff {
			g.Winners++
		} else {
			g.Lost++
		}
		if v.seq.Load() == g.Cutoff {
			lastPrize = v
		}
		lastTold = max(lastTold, v.cutoffAt.Load())
	}
	g.LateWinners = lateWinners(entrants, g.Cutoff)
	if g.Winners != g.Prizes {
		r.rep.fail("%d entrants hold a receipt at or before the cutoff %d, want exactly %d winners", g.Winners, g.Cutoff, g.Prizes)
	}
	if lastPrize != nil {
		g.ToldMS = ms(time.Duration(max(lastTold-lastPrize.ackAt.Load(), 0)))
	}
	r.askOutcomes(ctx, entrants, g)
}

// lateWinners counts the winners who sent their entry after the first
// loser sent theirs.
func lateWinners(entrants []*viewer, cutoff uint64) int {
	firstLoser := int64(-1)
	for _, v := range entrants {
		if v.seq.Load() > cutoff && (firstLoser < 0 || v.firstSent.Load() < firstLoser) {
			firstLoser = v.firstSent.Load()
		}
	}
	n := 0
	for _, v := range entrants {
		if firstLoser >= 0 && v.seq.Load() <= cutoff && v.firstSent.Load() > firstLoser {
			n++
		}
	}
	return n
}

// askOutcomes asks the server, as each winner and up to 100 others,
// whether they won: it must say what the receipt says, and give each
// winner a claim code.
func (r *run) askOutcomes(ctx context.Context, entrants []*viewer, g *GiveawayReport) {
	var ask []*viewer
	others := 0
	for _, v := range entrants {
		if won := v.seq.Load() <= g.Cutoff; won || others < 100 {
			ask = append(ask, v)
			if !won {
				others++
			}
		}
	}
	type answer struct {
		Won   bool   `json:"won"`
		Rank  int    `json:"rank"`
		Claim string `json:"claim"`
	}
	var mu sync.Mutex
	var ranks []int
	var failures []string
	work := make(chan *viewer)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for v := range work {
				tok, err := identity.Mint(r.cfg.ViewerSecret, v.user, tokenTTL)
				var a answer
				if err == nil {
					err = r.tgt.do(ctx, http.MethodGet, "/api/polls/"+v.poll.id+"/outcome?token="+tok, nil, &a)
				}
				won := v.seq.Load() <= g.Cutoff
				mu.Lock()
				switch {
				case err != nil:
					failures = append(failures, err.Error())
				case a.Won != won || won && a.Claim == "":
					failures = append(failures, fmt.Sprintf("%s (entry %d, cutoff %d) was told won=%v", v.user, v.seq.Load(), g.Cutoff, a.Won))
				case won:
					ranks = append(ranks, a.Rank)
				}
				mu.Unlock()
			}
		})
	}
	for _, v := range ask {
		work <- v
	}
	close(work)
	wg.Wait()
	g.Checked, g.Claims = len(ask), len(ranks)
	slices.Sort(ranks)
	if len(failures) > 0 {
		r.rep.fail("the outcome endpoint disagreed with %d entrants' receipts, first: %s", len(failures), failures[0])
	}
	for i, rank := range ranks {
		if rank != i+1 {
			r.rep.fail("claim codes do not rank the winners 1 to %d once each", len(ranks))
			break
		}
	}
}

// openGiveaway creates and opens a giveaway with n options and prizes.
func (t *target) openGiveaway(ctx context.Context, n, prizes int) (schema.Poll, error) {
	return t.open(ctx, schema.PollSpec{Kind: schema.KindGiveaway, Prizes: prizes, Question: "votecast load: the first " + strconv.Itoa(prizes) + " win"}, n)
}
