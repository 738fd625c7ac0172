package loadgen

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/votecast/votecast/waitroom"
)

// errQueued is a dial refused with "join the waiting room".
var errQueued = errors.New("sent to the waiting room")

// inLine is a viewer the server sent to the waiting room: it votes over
// HTTP with its ticket and connects once its place is let in.
type inLine struct {
	token  string // viewer token
	ticket string
	place  uint64
	hc     *http.Client
}

// join puts viewer i in the line: the server answered its dial with the
// waiting room.
func (r *run) join(ctx context.Context, hc *http.Client, i int, token string) (*viewer, error) {
	user, option, p := r.user(i)
	req, err := http.NewRequestWithContext(ctx, "POST", r.tgt.base+"/api/polls/"+p.id+"/queue?token="+url.QueryEscape(token), nil)
	if err != nil {
		return nil, err
	}
	var pl waitroom.Place
	if err := doJSON(hc, req, &pl); err != nil {
		return nil, fmt.Errorf("join the line as %s: %w", user, err)
	}
	if pl.Ticket == "" {
		// The node had room again by the time it was asked and nobody
		// waited: rare, and counted as a failed connection.
		return nil, fmt.Errorf("join the line as %s: let in without a ticket", user)
	}
	v := newViewer(r, p, user, option, nil)
	v.line = &inLine{token: token, ticket: pl.Ticket, place: pl.Place, hc: hc}
	return v, nil
}

// sendQueued casts the vote from the line: POST .../queue/vote with the
// ticket. The answer is the socket's ack frame, handled the same way.
func (v *viewer) sendQueued() error {
	body, _ := json.Marshal(map[string]any{"ticket": v.line.ticket, "vote": json.RawMessage(v.frame)})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST",
		v.r.tgt.base+"/api/polls/"+v.poll.id+"/queue/vote?token="+url.QueryEscape(v.line.token), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := v.line.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return err
	}
	if f, ok := parseFrame(b); !ok || f.Type != "ack" {
		v.r.errorFrames.Add(1)
		v.finish(statusErrorFrame)
		return nil
	}
	// The answer arrives on the caller's goroutine; a retry is sent
	// again from a timer, as a socket's is.
	go v.handle(b)
	return nil
}

func doJSON(hc *http.Client, req *http.Request, out any) error {
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(b))
	}
	return json.Unmarshal(b, out)
}

func (t *target) line(ctx context.Context) (waitroom.Snapshot, error) {
	var l waitroom.Snapshot
	err := t.do(ctx, "GET", "/api/queue", nil, &l)
	return l, err
}

// checkOrder tries to connect the last few in line before their turn:
// the server must refuse each (429, "not your turn"). A ticket let in
// meanwhile (the serving position moved) proves nothing and is skipped.
func (r *run) checkOrder(ctx context.Context, queued []*viewer) {
	last := slices.Clone(queued)
	slices.SortFunc(last, func(a, b *viewer) int { return cmp.Compare(b.line.place, a.line.place) })
	for _, v := range last[:min(5, len(last))] {
		before, err := r.tgt.line(ctx)
		if err != nil {
			r.rep.fail("read the line: %v", err)
			return
		}
		if before.Serving >= v.line.place {
			continue
		}
		c, code, err := r.dialTicket(ctx, v)
		if c != nil {
			c.CloseNow()
			after, _ := r.tgt.line(ctx)
			if after.Serving < v.line.place {
				r.rep.fail("place %d was let in with the serving position at %d", v.line.place, after.Serving)
			}
			continue
		}
		if code != http.StatusTooManyRequests {
			r.rep.fail("place %d connecting before its turn: %v (want 429 not your turn)", v.line.place, err)
			continue
		}
		r.rep.QueueEarlyRefused++
	}
}

// dialTicket opens v's socket with its ticket; on refusal, the HTTP code.
func (r *run) dialTicket(ctx context.Context, v *viewer) (*websocket.Conn, int, error) {
	u := "ws" + r.tgt.base[len("http"):] + "/ws?poll=" + v.poll.id + "&token=" + url.QueryEscape(v.line.token) +
		"&ticket=" + url.QueryEscape(v.line.ticket)
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	c, resp, err := websocket.Dial(dctx, u, &websocket.DialOptions{HTTPClient: v.line.hc})
	if err != nil {
		code := 0
		if resp != nil {
			code = resp.StatusCode
		}
		return nil, code, err
	}
	return c, http.StatusSwitchingProtocols, nil
}

// drain plays the line out: the viewers let in at the start leave (they
// voted and saw the result, as an audience does), and each viewer in
// line, in the order of its place, connects with its ticket once the
// serving position passes it, checks that the first totals it is shown
// are the exact final ones (its own vote among them), and leaves.
func (r *run) drain(ctx context.Context) {
	queued := r.queued
	if len(queued) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.PhaseTimeout)
	defer cancel()
	start := time.Now()
	for _, v := range r.all {
		v.leave()
	}
	slices.SortFunc(queued, func(a, b *viewer) int { return cmp.Compare(a.line.place, b.line.place) })
	var serving, rate atomic.Uint64 // rate: float64 bits
	var done, lastCounted atomic.Int64
	stop := r.progress("line", func() string {
		return fmt.Sprintf("%d/%d in line let in, serving %d", done.Load(), len(queued), serving.Load())
	})
	defer stop()
	// One reader of the line for the whole run: it is the same answer
	// for every viewer, as the waiting page's.
	pollCtx, stopPoll := context.WithCancel(ctx)
	var pollWG sync.WaitGroup
	defer func() { stopPoll(); pollWG.Wait() }()
	pollWG.Go(func() {
		for pollCtx.Err() == nil {
			if l, err := r.tgt.line(pollCtx); err == nil {
				serving.Store(l.Serving)
				rate.Store(math.Float64bits(l.Rate))
			}
			select {
			case <-pollCtx.Done():
			case <-time.After(100 * time.Millisecond): // polling the line, as the page does
			}
		}
	})
	next := make(chan *viewer)
	var wg sync.WaitGroup
	var errOnce sync.Once
	var firstErr error
	for range min(r.cfg.ConnectConcurrency, len(queued)) {
		wg.Go(func() {
			for v := range next {
				if err := r.admit(ctx, v, &serving); err != nil {
					errOnce.Do(func() { firstErr = err })
					continue
				}
				done.Add(1)
				for at := r.now(); ; {
					old := lastCounted.Load()
					if at <= old || lastCounted.CompareAndSwap(old, at) {
						break
					}
				}
			}
		})
	}
	for _, v := range queued {
		select {
		case next <- v:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	stopPoll()
	pollWG.Wait()
	r.rep.QueueRate = math.Float64frombits(rate.Load())
	if at := lastCounted.Load(); at > 0 {
		r.rep.QueueLastCountedMS = ms(time.Duration(at - r.spikeStart))
	}
	r.rep.QueueAdmitted = int(done.Load())
	r.rep.QueueDrainSeconds = time.Since(start).Seconds()
	if r.rep.QueueDrainSeconds > 0 {
		r.rep.QueueAdmittedPerSecond = float64(r.rep.QueueAdmitted) / r.rep.QueueDrainSeconds
	}
	if r.rep.QueueAdmitted != len(queued) {
		r.rep.fail("%d of %d viewers in line were not let in and shown the final totals; first error: %v", len(queued)-r.rep.QueueAdmitted, len(queued), firstErr)
	}
}

// admit waits for v's turn, connects with its ticket, awaits its first
// totals and leaves.
func (r *run) admit(ctx context.Context, v *viewer, serving *atomic.Uint64) error {
	for serving.Load() < v.line.place {
		select {
		case <-ctx.Done():
			return fmt.Errorf("place %d: never let in (serving %d)", v.line.place, serving.Load())
		case <-time.After(20 * time.Millisecond): // waiting for the line to move
		}
	}
	for {
		c, code, err := r.dialTicket(ctx, v)
		if c != nil {
			v.mu.Lock()
			v.conn = c
			v.mu.Unlock()
			break
		}
		// 503: the slot it was let in for was taken back by a viewer
		// reconnecting; 429 cannot happen once serving passed it.
		if code != http.StatusServiceUnavailable || ctx.Err() != nil {
			return fmt.Errorf("place %d connecting with its ticket: %v", v.line.place, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond): // the server said: full, try shortly
		}
	}
	r.readers.Add(1)
	go v.read()
	defer v.leave()
	for v.total.Load() < 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("place %d: no totals after connecting", v.line.place)
		case <-time.After(5 * time.Millisecond): // polling its reader's state, with the phase's deadline
		}
	}
	if t := v.total.Load(); t != v.poll.target {
		return fmt.Errorf("place %d was shown total %d, want the final %d", v.line.place, t, v.poll.target)
	}
	return nil
}
