// Package quota is the seed's strategy 3 applied to a first-come giveaway,
// as a baseline for votecast's: every server gets a share of the prizes
// and gives them out locally, first come at that server; a server whose
// share is gone asks the others for half of theirs, and says "lost" once
// none has any left. Run plays entrants against a few such servers on
// loopback and measures entries/s and fairness: how many winners sent
// their entry after some entrant who lost had sent theirs.
//
// It keeps everything in memory, as the strategy's point is to avoid
// shared state: no log, no durability, no recount.
package quota

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// server holds a share of the prizes.
type server struct {
	mu      sync.Mutex
	stock   int
	entered map[string]bool
	peers   []string // base URLs of the others
	hc      *http.Client
	delay   time.Duration
	// soldOut is set once every other server answered an ask with none:
	// shares only leave a server, so none will have any again.
	soldOut bool
}

func (s *server) handler() http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("POST /enter", func(w http.ResponseWriter, r *http.Request) {
		won, err := s.enter(r.Context(), r.URL.Query().Get("user"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]bool{"won": won})
	})
	m.HandleFunc("POST /share", func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		n := (s.stock + 1) / 2
		s.stock -= n
		s.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]int{"granted": n})
	})
	return m
}

// enter gives the user a prize from the local share, or from a share
// asked of the other servers, one at a time.
func (s *server) enter(ctx context.Context, user string) (bool, error) {
	s.mu.Lock()
	if s.entered[user] {
		s.mu.Unlock()
		return false, nil
	}
	s.entered[user] = true
	if s.stock > 0 {
		s.stock--
		s.mu.Unlock()
		return true, nil
	}
	if s.soldOut {
		s.mu.Unlock()
		return false, nil
	}
	s.mu.Unlock()
	for _, p := range s.peers {
		n, err := s.ask(ctx, p)
		if err != nil {
			return false, err
		}
		if n > 0 {
			s.mu.Lock()
			s.stock += n - 1 // one for this entrant
			s.mu.Unlock()
			return true, nil
		}
	}
	s.mu.Lock()
	s.soldOut = true
	s.mu.Unlock()
	return false, nil
}

func (s *server) ask(ctx context.Context, peer string) (int, error) {
	if s.delay > 0 {
		time.Sleep(s.delay) // the link between regions, simulated
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, peer+"/share", nil)
	res, err := s.hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("ask %s for a share: %w", peer, err)
	}
	defer res.Body.Close()
	var a struct {
		Granted int `json:"granted"`
	}
	if err := json.NewDecoder(res.Body).Decode(&a); err != nil {
		return 0, fmt.Errorf("ask %s for a share: %w", peer, err)
	}
	return a.Granted, nil
}

// Config is one run.
type Config struct {
	Entrants, Prizes, Servers, Concurrency int
	// Rate paces the entrants, per second (0: as fast as the clients
	// go): fairness is only measurable when arrivals are spread out.
	Rate float64
	// Skewed sends half the entrants to the first server and spreads the
	// rest over the others (one region's audience is larger); zero
	// value: round-robin, as even as shares can be.
	Skewed bool
	// PeerDelay is added to every ask of another server, standing for the
	// link between regions (loopback has none); zero value: none.
	PeerDelay time.Duration
}

// Result is what a run measured.
type Result struct {
	Design         string  `json:"design"`
	Entrants       int     `json:"entrants"`
	Prizes         int     `json:"prizes"`
	Servers        int     `json:"servers"`
	Concurrency    int     `json:"concurrency"`
	Rate           float64 `json:"rate"`
	Skewed         bool    `json:"skewed"`
	PeerDelayMS    float64 `json:"peer_delay_ms"`
	Winners        int     `json:"winners"`
	LateWinners    int     `json:"late_winners"`
	Seconds        float64 `json:"seconds"`
	EntriesPerSec  float64 `json:"entries_per_s"`
	ExactlyPrizes  bool    `json:"exactly_prizes"`
	EntrantsPerSrv int     `json:"entrants_per_server"`
}

// Run starts the servers on loopback, sends every entrant once (entrant
// i to server i mod Servers, as a round-robin balancer would) from
// Concurrency clients, and stops the servers.
func Run(ctx context.Context, c Config) (Result, error) {
	if c.Entrants < 1 || c.Prizes < 1 || c.Servers < 1 || c.Concurrency < 1 {
		return Result{}, errors.New("quota: entrants, prizes, servers and concurrency must be positive")
	}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: c.Concurrency + c.Servers}}
	servers := make([]*server, c.Servers)
	urls := make([]string, c.Servers)
	var https []*http.Server
	defer func() {
		for _, h := range https {
			_ = h.Close()
		}
	}()
	for i := range servers {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return Result{}, fmt.Errorf("quota: listen: %w", err)
		}
		share := c.Prizes / c.Servers
		if i < c.Prizes%c.Servers {
			share++
		}
		servers[i] = &server{stock: share, entered: map[string]bool{}, hc: hc, delay: c.PeerDelay}
		urls[i] = "http://" + ln.Addr().String()
		h := &http.Server{Handler: servers[i].handler(), ReadHeaderTimeout: 10 * time.Second}
		https = append(https, h)
		go func() { _ = h.Serve(ln) }()
	}
	for i, s := range servers {
		for j, u := range urls {
			if j != i {
				s.peers = append(s.peers, u)
			}
		}
	}
	sent := make([]int64, c.Entrants)
	won := make([]bool, c.Entrants)
	elapsed, err := Drive(ctx, c.Entrants, c.Concurrency, c.Rate, func(i int, start time.Time) error {
		sent[i] = int64(time.Since(start))
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, urls[serverOf(c, i)]+"/enter?user=u"+strconv.Itoa(i), nil)
		res, err := hc.Do(req)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		var a struct {
			Won bool `json:"won"`
		}
		if err := json.NewDecoder(res.Body).Decode(&a); err != nil {
			return err
		}
		won[i] = a.Won
		return nil
	})
	if err != nil {
		return Result{}, fmt.Errorf("quota: an entry failed: %w", err)
	}
	r := Result{Design: "quota", Entrants: c.Entrants, Prizes: c.Prizes, Servers: c.Servers, Concurrency: c.Concurrency, Rate: c.Rate, Skewed: c.Skewed, PeerDelayMS: float64(c.PeerDelay) / float64(time.Millisecond),
		Seconds: elapsed.Seconds(), EntriesPerSec: float64(c.Entrants) / elapsed.Seconds(), EntrantsPerSrv: c.Entrants / c.Servers}
	r.Winners, r.LateWinners = Fairness(sent, won)
	r.ExactlyPrizes = r.Winners == min(c.Prizes, c.Entrants)
	return r, nil
}

// Drive enters entrants 0..n-1 from concurrency clients, as fast as they
// go or paced at rate a second, each with enter(i, start), and returns the
// time from start to the last answer, or the first error (the rest are
// then not sent). Both designs of scripts/bench-giveaway are driven by it,
// so their figures come from the same clients.
func Drive(ctx context.Context, n, concurrency int, rate float64, enter func(i int, start time.Time) error) (time.Duration, error) {
	work := make(chan int)
	errs := make(chan error, concurrency)
	start := time.Now()
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			for i := range work {
				if err := enter(i, start); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	func() {
		defer close(work)
		for i := range n {
			if rate > 0 {
				// Pacing, not a wait for a condition: entrant i is due then.
				time.Sleep(time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))))
			}
			select {
			case work <- i:
			case err := <-errs:
				errs <- err
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	wg.Wait()
	elapsed := time.Since(start)
	select {
	case err := <-errs:
		return elapsed, err
	default:
		return elapsed, ctx.Err()
	}
}

// serverOf is where entrant i's entry goes.
func serverOf(c Config, i int) int {
	if !c.Skewed || c.Servers == 1 {
		return i % c.Servers
	}
	if i%2 == 0 {
		return 0
	}
	return 1 + (i/2)%(c.Servers-1)
}

// Fairness counts the winners, and the winners who sent their entry after
// the first loser sent theirs.
func Fairness(sent []int64, won []bool) (winners, late int) {
	firstLoser := int64(-1)
	for i, w := range won {
		if w {
			winners++
		} else if firstLoser < 0 || sent[i] < firstLoser {
			firstLoser = sent[i]
		}
	}
	for i, w := range won {
		if w && firstLoser >= 0 && sent[i] > firstLoser {
			late++
		}
	}
	return winners, late
}
