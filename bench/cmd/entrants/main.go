// Command entrants plays a first-come giveaway against a running votecast
// the way bench/cmd/quota plays it against the quota design: it creates a
// giveaway, and Concurrency clients enter one entrant each at a time (a
// WebSocket connection with the entrant's token, one entry, its receipt,
// close), as fast as they go or paced at Rate. At the end it reads the
// cutoff from the results and prints RESULT {json}: entries/s, winners
// (receipts at or before the cutoff) and late winners (winners who sent
// their entry after the first loser sent theirs). Entrants do not stay
// connected, so the run is not bounded by open files: the machine's limit
// (20,000 here) is well under 100,000. scripts/bench-giveaway runs it.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"

	"github.com/votecast/votecast/bench/quota"
)

type config struct {
	url, adminToken, viewerSecret string
	entrants, prizes, concurrency int
	rate                          float64
}

type result struct {
	Design        string  `json:"design"`
	Poll          string  `json:"poll"`
	Entrants      int     `json:"entrants"`
	Entries       int     `json:"entries"` // accepted, with a receipt
	Prizes        int     `json:"prizes"`
	Concurrency   int     `json:"concurrency"`
	Rate          float64 `json:"rate"`
	Cutoff        uint64  `json:"cutoff"`
	Winners       int     `json:"winners"`
	LateWinners   int     `json:"late_winners"`
	Seconds       float64 `json:"seconds"`
	EntriesPerSec float64 `json:"entries_per_s"`
	ExactlyPrizes bool    `json:"exactly_prizes"`
}

func main() {
	var c config
	fs := flag.NewFlagSet("entrants", flag.ExitOnError)
	fs.StringVar(&c.url, "url", "http://127.0.0.1:8080", "votecast's base URL")
	fs.StringVar(&c.adminToken, "admin-token", os.Getenv("VOTECAST_ADMIN_TOKEN"), "producer token (env VOTECAST_ADMIN_TOKEN)")
	fs.StringVar(&c.viewerSecret, "viewer-secret", os.Getenv("VOTECAST_VIEWER_SECRET"), "HS256 key of viewer tokens (env VOTECAST_VIEWER_SECRET)")
	fs.IntVar(&c.entrants, "entrants", 100_000, "entrants, each entering once")
	fs.IntVar(&c.prizes, "prizes", 100, "prizes")
	fs.IntVar(&c.concurrency, "concurrency", 64, "clients entering at once")
	fs.Float64Var(&c.rate, "rate", 0, "entrants per second (0: as fast as the clients go)")
	timeout := fs.Duration("timeout", 10*time.Minute, "bound on the run")
	_ = fs.Parse(os.Args[1:])
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	r, err := run(ctx, c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "entrants:", err)
		os.Exit(1)
	}
	b, _ := json.Marshal(r)
	fmt.Printf("RESULT %s\n", b)
	if !r.ExactlyPrizes {
		fmt.Fprintf(os.Stderr, "entrants: %d winners, want %d\n", r.Winners, min(r.Prizes, r.Entries))
		os.Exit(1)
	}
}

func run(ctx context.Context, c config) (result, error) {
	r := result{Design: "votecast", Entrants: c.entrants, Prizes: c.prizes, Concurrency: c.concurrency, Rate: c.rate}
	hc := &http.Client{Timeout: 30 * time.Second}
	options := []string{"Enter", "Also enter"}
	spec := map[string]any{"kind": "giveaway", "prizes": c.prizes, "question": "bench: the first " + strconv.Itoa(c.prizes) + " win", "options": options}
	var poll struct {
		ID string `json:"id"`
	}
	if err := api(ctx, hc, c, "POST", "/api/polls", spec, &poll); err != nil {
		return r, err
	}
	if err := api(ctx, hc, c, "POST", "/api/polls/"+poll.ID+"/open", nil, nil); err != nil {
		return r, err
	}
	r.Poll = poll.ID
	ws := "ws" + strings.TrimPrefix(c.url, "http")
	sent := make([]int64, c.entrants)
	seqs := make([]uint64, c.entrants)
	elapsed, err := quota.Drive(ctx, c.entrants, c.concurrency, c.rate, func(i int, start time.Time) error {
		seq, at, err := enter(ctx, c, ws, poll.ID, i, start)
		sent[i], seqs[i] = at, seq
		return err
	})
	if err != nil {
		return r, err
	}
	// The cutoff, once the tally has folded every entry.
	deadline := time.Now().Add(time.Minute)
	var tot struct {
		Total    int64 `json:"total"`
		Giveaway struct {
			Cutoff uint64 `json:"cutoff"`
		} `json:"giveaway"`
	}
	for {
		if err := api(ctx, hc, c, "GET", "/api/polls/"+poll.ID+"/results", nil, &tot); err != nil {
			return r, err
		}
		if tot.Total == int64(c.entrants) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond) // polling a condition, with a deadline
	}
	r.Cutoff = tot.Giveaway.Cutoff
	won := make([]bool, c.entrants)
	for i, s := range seqs {
		if s > 0 {
			r.Entries++
		}
		won[i] = s > 0 && (r.Cutoff == 0 || s <= r.Cutoff)
	}
	r.Winners, r.LateWinners = quota.Fairness(sent, won)
	r.Seconds = elapsed.Seconds()
	r.EntriesPerSec = float64(r.Entries) / elapsed.Seconds()
	r.ExactlyPrizes = r.Winners == min(c.prizes, r.Entries) && int64(r.Entries) == tot.Total
	return r, nil
}

// enter connects as entrant i, enters and returns its receipt and when
// the entry was sent. A retry answer is resent with the same key.
func enter(ctx context.Context, c config, ws, poll string, i int, start time.Time) (uint64, int64, error) {
	now := time.Now()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Subject: "entrant-" + strconv.Itoa(i), IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
	}).SignedString([]byte(c.viewerSecret))
	if err != nil {
		return 0, 0, err
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(dctx, ws+"/ws?poll="+poll+"&token="+tok, nil)
	if err != nil {
		return 0, 0, fmt.Errorf("entrant %d: %w", i, err)
	}
	defer conn.CloseNow()
	var at int64
	for tries := 0; tries < 20; tries++ {
		if at == 0 {
			at = int64(time.Since(start))
		}
		if err := conn.Write(dctx, websocket.MessageText, []byte(`{"type":"vote","id":"e","option":0}`)); err != nil {
			return 0, 0, fmt.Errorf("entrant %d: %w", i, err)
		}
		for {
			_, b, err := conn.Read(dctx)
			if err != nil {
				return 0, 0, fmt.Errorf("entrant %d: %w", i, err)
			}
			if !bytes.Contains(b, []byte(`"type":"ack"`)) {
				continue // a results frame
			}
			var a struct {
				Status       string `json:"status"`
				Reason       string `json:"reason"`
				Seq          uint64 `json:"seq"`
				RetryAfterMS int    `json:"retry_after_ms"`
			}
			if err := json.Unmarshal(b, &a); err != nil {
				return 0, 0, fmt.Errorf("entrant %d: %w", i, err)
			}
			if a.Status == "retry" {
				time.Sleep(time.Duration(max(a.RetryAfterMS, 100)) * time.Millisecond) // the server's own backoff
				break
			}
			if a.Seq == 0 {
				return 0, 0, fmt.Errorf("entrant %d: %s %s, no receipt", i, a.Status, a.Reason)
			}
			return a.Seq, at, nil
		}
	}
	return 0, 0, fmt.Errorf("entrant %d: no final answer after 20 sends", i)
}

func api(ctx context.Context, hc *http.Client, c config, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.adminToken)
	res, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s %s", method, path, res.Status, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}
