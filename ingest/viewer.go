package ingest

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"github.com/votecast/votecast/schema"
)

const (
	ackQueue    = 64 // acks waiting to be written; a viewer this far behind is dropped
	floodWindow = 10 * time.Second
	floodFrames = 100 // frames over the rate limit within floodWindow that close the socket
	maxKeys     = 1024
)

// conn is what a viewer needs of its WebSocket (*websocket.Conn).
type conn interface {
	Read(ctx context.Context) (websocket.MessageType, []byte, error)
	Write(ctx context.Context, typ websocket.MessageType, p []byte) error
	Close(code websocket.StatusCode, reason string) error
	CloseNow() error
}

// viewer is one WebSocket connection. Idle viewers are the bulk of a show,
// so an idle viewer is its reader goroutine and a few words: the writer
// runs only while there is something to write (writer.go), and the vote
// state is allocated on the first vote.
type viewer struct {
	s    *Server
	c    conn
	user string
	poll string

	out outbox // frames waiting to be written, and the writer's state
	// wire gathers a writer's frames into one write; nil for connections
	// not made by ServeHTTP (tests).
	wire *corkConn

	votes *voteState // reader goroutine only, but for keys (see voteState)

	// place and reply are set on a vote cast from the waiting room
	// (queued.go): the ticket's place, and where its one answer goes
	// instead of a socket.
	place uint64
	reply chan schema.Ack
}

type voteState struct {
	limiter  *rate.Limiter
	window   time.Time
	overRate int

	mu   sync.Mutex
	keys map[string]schema.Ack // client key -> the answer given, or status "inflight"
	used int                   // votes this connection knows the user spent (no-change polls)
}

func newViewer(s *Server, c conn, user, poll string) *viewer {
	return &viewer{s: s, c: c, user: user, poll: poll}
}

// serve runs the connection until the viewer leaves or the server closes
// the socket. Reads take no context: closing the socket ends them, and a
// context with a deadline would cost a timer registration per read.
func (v *viewer) serve() {
	if feed := v.s.opts.Feed; feed != nil {
		first, unsubscribe := feed.Subscribe(v.poll, v)
		defer unsubscribe()
		if first != nil {
			v.Offer(first)
		}
	}
	v.readLoop()
	defer v.endWrites()
	if !v.out.closing() {
		v.c.CloseNow() // the viewer left: end a write in progress
		return
	}
	// The server is closing the socket with a status: the writer writes
	// the queued acks and the close frame; the janitor bounds a stuck one.
	<-v.out.closed
	v.c.CloseNow()
}

func (v *viewer) readLoop() {
	for {
		typ, data, err := v.c.Read(context.Background())
		if err != nil {
			return
		}
		if v.votes == nil {
			v.votes = &voteState{limiter: rate.NewLimiter(v.s.opts.VoteRate, v.s.opts.VoteBurst), keys: map[string]schema.Ack{}}
		}
		f, err := schema.DecodeClientFrame(data)
		if typ != websocket.MessageText {
			err = errors.New("frames must be text")
		}
		switch v.admitFrame() {
		case flood:
			v.s.log.Warn("ingest: closing a flooding connection", "poll", v.poll)
			v.kick(websocket.StatusPolicyViolation, reasonFlood)
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

func (v *viewer) answer(a schema.Ack) {
	v.s.count(a.Status)
	if v.reply != nil {
		select {
		case v.reply <- a:
		default: // one answer per vote from the line; never block the acker
		}
		return
	}
	v.send(schema.AppendAck(make([]byte, 0, 96), a))
}
