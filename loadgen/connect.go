package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/coder/websocket"

	"github.com/votecast/votecast/identity"
)

const (
	dialAttempts = 3
	dialTimeout  = 15 * time.Second
	tokenTTL     = 2 * time.Hour
)

// httpClients returns one client per source address (or one that lets
// the OS pick): the dialer binds the socket before connecting.
func (r *run) httpClients() []*http.Client {
	if len(r.cfg.Sources) == 0 {
		return []*http.Client{{Transport: &http.Transport{}}}
	}
	out := make([]*http.Client, len(r.cfg.Sources))
	for i, src := range r.cfg.Sources {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IP(src.AsSlice())}, Timeout: dialTimeout}
		out[i] = &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	}
	return out
}

// connect opens every connection with at most ConnectConcurrency dials in
// flight; false when none connected.
func (r *run) connect(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.PhaseTimeout)
	defer cancel()
	n := r.cfg.Viewers + r.probes
	r.clients = r.httpClients()
	wsBase := "ws" + strings.TrimPrefix(r.tgt.base, "http")
	conns, queued := make([]*viewer, n), make([]*viewer, n)
	var next, connected, failed, inLine, skipped atomic.Int64
	var firstErr error
	var errOnce sync.Once
	start := time.Now()
	stop := r.progress("connect", func() string {
		c, el := connected.Load(), time.Since(start).Seconds()
		return fmt.Sprintf("%d/%d connected, %d in the waiting room, %d failed, %.0f/s", c, n, inLine.Load(), failed.Load(), float64(c)/el)
	})
	var wg sync.WaitGroup
	for range min(r.cfg.ConnectConcurrency, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				hc := r.clients[i%len(r.clients)]
				v, err := r.dial(ctx, hc, wsBase, i)
				if errors.Is(err, errQueued) && i >= r.cfg.Viewers {
					// A probe measures a quiet fan-out to connected
					// viewers; one the node had no room for is skipped.
					skipped.Add(1)
					continue
				}
				if errors.Is(err, errQueued) {
					var tok string
					if tok, err = r.token(i); err == nil {
						v, err = r.join(ctx, hc, i, tok)
					}
					if err == nil {
						inLine.Add(1)
						queued[i] = v
						continue
					}
				}
				if err != nil {
					failed.Add(1)
					errOnce.Do(func() { firstErr = err })
					continue
				}
				conns[i] = v
				connected.Add(1)
			}
		})
	}
	wg.Wait()
	stop()
	elapsed := time.Since(start)
	for i, v := range conns {
		switch {
		case v == nil:
		case i < r.cfg.Viewers:
			r.voters = append(r.voters, v)
		default:
			r.probers = append(r.probers, v)
		}
	}
	r.all = append(append(make([]*viewer, 0, n), r.voters...), r.probers...)
	for _, v := range queued {
		if v != nil {
			r.queued = append(r.queued, v)
		}
	}
	// Those in line vote too, from the line.
	r.voters = append(r.voters, r.queued...)
	rep := r.rep
	rep.Connected, rep.ConnectFailures, rep.Queued = len(r.all), int(failed.Load()), len(r.queued)
	rep.ConnectSeconds = elapsed.Seconds()
	rep.ConnectsPerSecond = float64(len(r.all)) / elapsed.Seconds()
	rep.ProbesSkipped = int(skipped.Load())
	if missing := n - len(r.all) - len(r.queued) - rep.ProbesSkipped - rep.ConnectFailures; missing > 0 {
		rep.fail("connect phase not done within %s: %d viewers never dialled", r.cfg.PhaseTimeout, missing)
	}
	if rep.ConnectFailures > max(r.cfg.MaxConnectFailures, 0) {
		rep.fail("%d viewers failed to connect (%d allowed); first error: %v", rep.ConnectFailures, max(r.cfg.MaxConnectFailures, 0), firstErr)
	}
	return len(r.voters) > 0
}

// dial connects viewer i, trying again after a refusal the server may get
// over (a full node, a slow accept).
func (r *run) dial(ctx context.Context, hc *http.Client, wsBase string, i int) (*viewer, error) {
	user, option, p := r.user(i)
	tok, err := r.token(i)
	if err != nil {
		return nil, err
	}
	u := wsBase + "/ws?poll=" + p.id + "&token=" + tok
	// Exponential back-off with jitter between tries, so thousands of
	// refused viewers do not come back in step; the server's
	// retry_after_ms, when it gives one, is the wait instead.
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval, bo.MaxInterval = 200*time.Millisecond, 2*time.Second
	return backoff.Retry(ctx, func() (*viewer, error) {
		dctx, cancel := context.WithTimeout(ctx, dialTimeout)
		c, resp, err := websocket.Dial(dctx, u, &websocket.DialOptions{HTTPClient: hc})
		cancel()
		if err == nil {
			v := newViewer(r, p, user, option, c)
			r.readers.Add(1)
			go v.read()
			return v, nil
		}
		var refusal struct {
			Queue        bool `json:"queue"`
			RetryAfterMS int  `json:"retry_after_ms"`
		}
		if resp != nil && resp.Body != nil {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
			_ = json.Unmarshal(b, &refusal)
		}
		switch {
		case resp != nil && resp.StatusCode == http.StatusServiceUnavailable && refusal.Queue:
			return nil, backoff.Permanent(errQueued)
		case resp != nil && resp.StatusCode >= 400 && resp.StatusCode < 500:
			return nil, backoff.Permanent(fmt.Errorf("dial as %s: %s", user, resp.Status)) // refused for good
		case refusal.RetryAfterMS > 0:
			wait := &backoff.RetryAfterError{Duration: time.Duration(refusal.RetryAfterMS) * time.Millisecond}
			return nil, fmt.Errorf("dial as %s: %w (%w)", user, err, wait)
		}
		return nil, fmt.Errorf("dial as %s: %w", user, err)
	}, backoff.WithBackOff(bo), backoff.WithMaxTries(dialAttempts))
}

// user names viewer i and picks its option; probe viewers come after the
// voters.
func (r *run) user(i int) (string, int, *pollRun) {
	if i < r.cfg.Viewers {
		return fmt.Sprintf("%s-%06d", r.prefix, i), i / len(r.polls) % r.rep.Options, r.polls[i%len(r.polls)]
	}
	k := i - r.cfg.Viewers
	return fmt.Sprintf("%s-p%05d", r.prefix, k), k % r.rep.Options, r.polls[k%len(r.polls)]
}

// token mints viewer i's token.
func (r *run) token(i int) (string, error) {
	user, _, _ := r.user(i)
	return identity.Mint(r.cfg.ViewerSecret, user, tokenTTL)
}
