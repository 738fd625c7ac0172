package ingest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"github.com/votecast/votecast/schema"
)

const (
	ackQueue     = 64 // acks waiting for the writer; a viewer this far behind is dropped
	writeTimeout = 10 * time.Second
	floodWindow  = 10 * time.Second
	floodFrames  = 100 // frames over the rate limit within floodWindow that close the socket
	maxKeys      = 1024
)

// viewer is one WebSocket connection. Idle viewers are the bulk of a show,
// so the vote state is allocated on the first vote only.
type viewer struct {
	s    *Server
	c    *websocket.Conn
	user string
	poll string

	results atomic.Pointer[[]byte] // newest results frame not yet written
	wake    chan struct{}          // results waiting; capacity 1
	acks    chan []byte
	away    chan struct{} // closed by goAway
	awayOne sync.Once

	votes *voteState // reader goroutine only, but for keys (see voteState)
}

type voteState struct {
	limiter  *rate.Limiter
	window   time.Time
	overRate int

	mu   sync.Mutex
	keys map[string]string // client key -> "inflight" or the status answered
	used int               // votes this connection knows the user spent (no-change polls)
}

func newViewer(s *Server, c *websocket.Conn, user, poll string) *viewer {
	return &viewer{s: s, c: c, user: user, poll: poll,
		wake: make(chan struct{}, 1), acks: make(chan []byte, ackQueue), away: make(chan struct{})}
}

// Offer is the broadcast feed's hand-off: keep the newest, wake the writer.
func (v *viewer) Offer(frame []byte) {
	v.results.Store(&frame)
	select {
	case v.wake <- struct{}{}:
	default:
	}
}

func (v *viewer) goAway() { v.awayOne.Do(func() { close(v.away) }) }

func (v *viewer) serve(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	first, unsubscribe := v.s.opts.Feed.Subscribe(v.poll, v)
	defer unsubscribe()
	if first != nil {
		v.Offer(first)
	}
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		v.writeLoop(ctx)
	}()
	v.readLoop(ctx)
	cancel()
	<-writerDone
	v.c.CloseNow()
}

func (v *viewer) readLoop(ctx context.Context) {
	for {
		typ, data, err := v.c.Read(ctx)
		if err != nil {
			return
		}
		if v.votes == nil {
			v.votes = &voteState{limiter: rate.NewLimiter(v.s.opts.VoteRate, v.s.opts.VoteBurst), keys: map[string]string{}}
		}
		f, err := schema.DecodeClientFrame(data)
		if typ != websocket.MessageText {
			err = errors.New("frames must be text")
		}
		switch v.admitFrame() {
		case flood:
			return
		case overRate:
			v.answer(schema.Ack{ID: f.ID, Status: schema.StatusRetry, Reason: "too many votes, slow down", RetryAfterMS: 1000})
			continue
		}
		if err != nil {
			v.s.metrics.badFrames.Inc()
			v.send(schema.AppendError(nil, err.Error()))
			continue
		}
		v.vote(f)
	}
}

type admission uint8

const (
	admitted admission = iota
	overRate           // answered with retry
	flood              // the socket is closed
)

// admitFrame applies the connection's rate limit to any frame, valid or
// not; a flood far past it closes the socket.
func (v *viewer) admitFrame() admission {
	vs := v.votes
	now := time.Now()
	if vs.limiter.AllowN(now, 1) {
		return admitted
	}
	if now.Sub(vs.window) > floodWindow {
		vs.window, vs.overRate = now, 0
	}
	vs.overRate++
	if vs.overRate > floodFrames {
		v.s.log.Warn("ingest: closing a flooding connection", "poll", v.poll)
		v.c.Close(websocket.StatusPolicyViolation, "too many frames")
		return flood
	}
	return overRate
}

// send queues a frame for the writer. A viewer whose queue is full is too
// slow to keep: it is disconnected rather than allowed to hold anyone up.
func (v *viewer) send(frame []byte) {
	select {
	case v.acks <- frame:
	default:
		v.c.Close(websocket.StatusPolicyViolation, "too slow")
	}
}

func (v *viewer) writeLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case f := <-v.acks:
			if !v.write(ctx, f) {
				return
			}
		case <-v.wake:
			if f := v.results.Swap(nil); f != nil && !v.write(ctx, *f) {
				return
			}
		case <-v.away:
			for {
				select {
				case f := <-v.acks:
					if !v.write(ctx, f) {
						return
					}
					continue
				default:
				}
				break
			}
			v.c.Close(websocket.StatusGoingAway, "server shutting down")
			return
		}
	}
}

func (v *viewer) write(ctx context.Context, frame []byte) bool {
	wctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	if err := v.c.Write(wctx, websocket.MessageText, frame); err != nil {
		if !errors.Is(err, context.Canceled) {
			v.c.CloseNow()
		}
		return false
	}
	return true
}

func (v *viewer) answer(a schema.Ack) {
	v.s.count(a.Status)
	v.send(schema.AppendAck(make([]byte, 0, 96), a))
}
