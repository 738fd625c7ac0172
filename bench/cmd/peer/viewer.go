package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
)

const (
	dialAttempts = 3
	dialTimeout  = 15 * time.Second
	replyTimeout = 15 * time.Second
	writeTimeout = 10 * time.Second
	tokenTTL     = 2 * time.Hour
)

// fanout is what the viewers share: the clock and the probe being awaited.
// Viewers' readers update it with atomics, and goneOnce for the first
// connection that ends.
type fanout struct {
	epoch   time.Time
	waiting atomic.Pointer[probeWait]
	readers sync.WaitGroup

	gone     atomic.Int64 // connections that ended
	goneOnce sync.Once
	goneErr  error // why the first one ended
}

// probeWait counts the viewers that have yet to see publication seq.
type probeWait struct {
	seq       int64
	remaining atomic.Int64
	done      chan struct{}
}

func newProbeWait(seq int64, viewers int) *probeWait {
	w := &probeWait{seq: seq, done: make(chan struct{})}
	w.remaining.Store(int64(viewers))
	return w
}

func (f *fanout) now() int64 { return int64(time.Since(f.epoch)) }

// ended counts a connection that ended. goneErr is set before gone grows,
// so whoever sees gone > 0 may read it.
func (f *fanout) ended(err error) {
	f.goneOnce.Do(func() { f.goneErr = err })
	f.gone.Add(1)
}

// viewer is one Centrifugo client: one WebSocket connection, one user,
// subscribed to the channel. Its reader goroutine is the only reader;
// times are nanoseconds since the fan-out's epoch.
type viewer struct {
	fan     *fanout
	conn    *websocket.Conn
	replies chan message  // replies to connect and subscribe
	ended   chan struct{} // closed when the reader returns
	endErr  error         // why, set before ended is closed

	pubs  atomic.Int64 // publications received
	seq   atomic.Int64 // newest probe seen
	seqAt atomic.Int64 // when it was seen
}

// dialViewer connects as user, authenticates with a token signed with
// secret and subscribes to channel, all within ctx; the viewer's reader
// runs until life ends or the connection does.
func dialViewer(ctx, life context.Context, fan *fanout, hc *http.Client, wsURL string, secret []byte, user, channel string) (*viewer, string, error) {
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Subject:   user,
		ExpiresAt: jwt.NewNumericDate(time.Now().Add(tokenTTL)),
	}).SignedString(secret)
	if err != nil {
		return nil, "", fmt.Errorf("sign the token of %s: %w", user, err)
	}
	c, err := dial(ctx, hc, wsURL)
	if err != nil {
		return nil, "", fmt.Errorf("dial as %s: %w", user, err)
	}
	v := &viewer{fan: fan, conn: c, replies: make(chan message, 2), ended: make(chan struct{})}
	fan.readers.Add(1)
	go v.read(life)
	m, err := v.command(ctx, connectCommand(tok))
	if err == nil && m.Connect == nil {
		err = errors.New("the reply has no connect result")
	}
	if err != nil {
		c.CloseNow()
		return nil, "", fmt.Errorf("connect as %s: %w", user, err)
	}
	if _, err := v.command(ctx, subscribeCommand(channel)); err != nil {
		c.CloseNow()
		return nil, "", fmt.Errorf("subscribe %s to %s: %w", user, channel, err)
	}
	return v, m.Connect.Version, nil
}

// dial opens the WebSocket, trying again after an error the server may get
// over (a full accept queue), not after a refusal.
func dial(ctx context.Context, hc *http.Client, wsURL string) (*websocket.Conn, error) {
	for attempt := 1; ; attempt++ {
		dctx, cancel := context.WithTimeout(ctx, dialTimeout)
		c, resp, err := websocket.Dial(dctx, wsURL, &websocket.DialOptions{HTTPClient: hc})
		cancel()
		if err == nil {
			return c, nil
		}
		if resp != nil && resp.StatusCode >= 400 && resp.StatusCode < 500 {
			return nil, fmt.Errorf("refused: %s", resp.Status)
		}
		if attempt == dialAttempts {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, errors.Join(err, ctx.Err())
		case <-time.After(time.Duration(attempt) * 200 * time.Millisecond): // backing off, not waiting for a condition
		}
	}
}

// command writes one command and awaits its reply.
func (v *viewer) command(ctx context.Context, cmd []byte) (message, error) {
	if err := v.write(ctx, cmd); err != nil {
		return message{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, replyTimeout)
	defer cancel()
	select {
	case m := <-v.replies:
		if m.Error != nil {
			return m, m.Error
		}
		return m, nil
	case <-v.ended:
		// Centrifugo answers a bad token by closing the connection.
		return message{}, v.endErr
	case <-ctx.Done():
		return message{}, fmt.Errorf("no reply within %s: %w", replyTimeout, ctx.Err())
	}
}

func (v *viewer) write(ctx context.Context, b []byte) error {
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	return v.conn.Write(ctx, websocket.MessageText, b)
}

// read is the viewer's reader: it answers pings, hands replies to
// command and counts publications. A connection that ends is counted in
// the fan-out, so a probe waiting for it fails with the reason.
func (v *viewer) read(ctx context.Context) {
	defer v.fan.readers.Done()
	defer close(v.ended)
	for {
		_, frame, err := v.conn.Read(ctx)
		if err != nil {
			v.endErr = fmt.Errorf("connection ended: %w", err)
			if ctx.Err() == nil {
				v.fan.ended(v.endErr)
			}
			return
		}
		at := v.fan.now()
		if err := eachMessage(frame, func(line []byte) error { return v.handle(ctx, line, at) }); err != nil {
			v.endErr = err
			v.fan.ended(err)
			v.conn.CloseNow()
			return
		}
	}
}

func (v *viewer) handle(ctx context.Context, line []byte, at int64) error {
	m, ping, err := parseMessage(line)
	switch {
	case err != nil:
		return err
	case ping:
		// Centrifugo disconnects a client whose pong is late (pong_timeout).
		if err := v.write(ctx, []byte("{}")); err != nil {
			return fmt.Errorf("answer a ping: %w", err)
		}
	case m.ID > 0:
		select {
		case v.replies <- m:
		default: // a reply nobody awaits any more
		}
	case m.Push != nil && m.Push.Pub != nil:
		seq, err := probeSeq(m.Push.Pub.Data)
		if err != nil {
			return err
		}
		v.pubs.Add(1)
		if prev := v.seq.Swap(seq); prev >= seq {
			return fmt.Errorf("publication %d after %d", seq, prev)
		}
		v.seqAt.Store(at)
		if w := v.fan.waiting.Load(); w != nil && w.seq == seq && w.remaining.Add(-1) == 0 {
			close(w.done)
		}
	}
	return nil
}
