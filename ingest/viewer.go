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
	// writeStart is when the write under way began (unix ns), 0 when the
	// writer is idle; the server's janitor closes sockets stuck in a write.
	writeStart atomic.Int64
	wake       chan struct{} // results waiting; capacity 1
	acks       chan []byte
	// kicked is closed when the server ends the connection; the writer
	// then writes the acks already queued and closes with kickCode.
	kicked     chan struct{}
	kickOnce   sync.Once
	kickCode   websocket.StatusCode
	kickReason string

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
		wake: make(chan struct{}, 1), acks: make(chan []byte, ackQueue), kicked: make(chan struct{})}
}

// Offer is the broadcast feed's hand-off: keep the newest, wake the writer.
func (v *viewer) Offer(frame []byte) {
	v.results.Store(&frame)
	select {
	case v.wake <- struct{}{}:
	default:
	}
}

// kick ends the connection from the server's side, once.
func (v *viewer) kick(code websocket.StatusCode, reason string) {
	v.kickOnce.Do(func() {
		v.kickCode, v.kickReason = code, reason
		close(v.kicked)
	})
}

func (v *viewer) goAway() { v.kick(websocket.StatusGoingAway, "server shutting down") }

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
	select {
	case <-v.kicked: // the writer is closing with a status: let it finish
	default:
		cancel() // the viewer left: unblock a write in progress
		v.c.CloseNow()
	}
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
			v.s.log.Warn("ingest: closing a flooding connection", "poll", v.poll)
			v.kick(websocket.StatusPolicyViolation, "too many frames")
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
		v.kick(websocket.StatusPolicyViolation, "too slow")
	}
}

func (v *viewer) writeLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case f := <-v.acks:
			if !v.write(f) {
				return
			}
		case <-v.wake:
			if f := v.results.Swap(nil); f != nil && !v.write(*f) {
				return
			}
		case <-v.kicked:
			v.drainAcks()
			v.c.Close(v.kickCode, v.kickReason)
			return
		}
	}
}

// drainAcks writes the acks already queued: a viewer told to go away
// still learns what became of its votes.
func (v *viewer) drainAcks() {
	for {
		select {
		case f := <-v.acks:
			if !v.write(f) {
				return
			}
		default:
			return
		}
	}
}

// write sends one frame. It sets no timer per write (a timer per frame per
// viewer is most of the fan-out's cost); a write stuck past writeTimeout is
// ended by the server's janitor closing the socket.
func (v *viewer) write(frame []byte) bool {
	v.writeStart.Store(time.Now().UnixNano())
	err := v.c.Write(context.Background(), websocket.MessageText, frame)
	v.writeStart.Store(0)
	if err != nil {
		v.c.CloseNow()
		return false
	}
	return true
}

func (v *viewer) answer(a schema.Ack) {
	v.s.count(a.Status)
	v.send(schema.AppendAck(make([]byte, 0, 96), a))
}
