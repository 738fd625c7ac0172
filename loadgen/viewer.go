package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/votecast/votecast/schema"
)

const writeTimeout = 10 * time.Second

// viewer is one WebSocket connection, one user. Times are nanoseconds
// since the run's epoch; 0 means "not yet".
type viewer struct {
	r      *run
	poll   *pollRun
	user   string
	option int
	conn   *websocket.Conn
	frame  []byte // the vote frame, encoded once

	votes     atomic.Pointer[voteTracker] // where the final answer goes
	firstSent atomic.Int64
	lastSent  atomic.Int64
	answered  atomic.Bool

	total   atomic.Int64 // newest total seen; -1 before the first results frame
	totalAt atomic.Int64 // when the current total was first seen
	frames  atomic.Int64 // results frames received
	counted atomic.Int64 // the fan-out target this viewer was last counted for
	gone    atomic.Bool  // the connection ended

	mu     sync.Mutex
	retry  *time.Timer
	closed bool

	line *inLine     // set while the server kept it in the waiting room
	left atomic.Bool // it left on purpose (the line's drain): not a lost connection

	// A giveaway's entrant: its receipt, when it was answered, and the
	// cutoff the sold-out frame showed it, and when.
	seq      atomic.Uint64
	ackAt    atomic.Int64
	cutoff   atomic.Uint64
	cutoffAt atomic.Int64
}

func newViewer(r *run, p *pollRun, user string, option int, conn *websocket.Conn) *viewer {
	v := &viewer{r: r, poll: p, user: user, option: option, conn: conn}
	v.frame = []byte(`{"type":"vote","id":"` + voteKey + `","option":` + strconv.Itoa(option) + `}`)
	v.total.Store(-1)
	v.counted.Store(-1)
	return v
}

// voteKey is every viewer's client key: each votes once, and a resend
// after a retry carries the same key, as a real client's does.
const voteKey = "vote-001"

// send writes the vote frame.
func (v *viewer) send() error {
	now := v.r.now()
	v.firstSent.CompareAndSwap(0, now)
	v.lastSent.Store(now)
	if v.conn == nil {
		return v.sendQueued()
	}
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	return v.conn.Write(ctx, websocket.MessageText, v.frame)
}

// vote sends the vote, answering it as unsent when the write fails.
func (v *viewer) vote(t *voteTracker) {
	v.votes.Store(t)
	if err := v.send(); err != nil {
		v.finish(statusUnsent)
	}
}

// finish records the final answer, once.
func (v *viewer) finish(status string) {
	if t := v.votes.Load(); t != nil && v.answered.CompareAndSwap(false, true) {
		t.answer(v, status, v.r.now())
	}
}

// read is the viewer's one reader goroutine. It reads into one buffer per
// connection and parses only what it needs: a results frame's total, an
// ack's status.
func (v *viewer) read() {
	defer v.r.readers.Done()
	buf := make([]byte, 0, 256)
	for {
		typ, rd, err := v.conn.Reader(context.Background())
		if err == nil {
			buf, err = readFrame(rd, buf[:0])
		}
		if err != nil {
			v.gone.Store(true)
			v.r.lost(v)
			return
		}
		if typ == websocket.MessageText {
			v.handle(buf)
		}
	}
}

// readFrame reads one message into buf, growing it as needed.
func readFrame(rd io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := rd.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// serverFrame is every frame the server sends a viewer, decoded as JSON:
// what the load generator reads of results, acks and errors.
type serverFrame struct {
	Type string `json:"type"`
	// results
	Total    *int64 `json:"total"` // nil when the results are hidden
	Giveaway *struct {
		SoldOut bool   `json:"sold_out"`
		Cutoff  uint64 `json:"cutoff"`
	} `json:"giveaway"`
	// ack
	ackFrame
}

type ackFrame struct {
	ID           string `json:"id"`
	Status       string `json:"status"`
	Reason       string `json:"reason"`
	RetryAfterMS int    `json:"retry_after_ms"`
	Seq          uint64 `json:"seq"`
}

// parseFrame decodes a frame; false when it is not JSON or has no type.
func parseFrame(b []byte) (serverFrame, bool) {
	var f serverFrame
	if json.Unmarshal(b, &f) != nil || f.Type == "" {
		return serverFrame{}, false
	}
	return f, true
}

func (v *viewer) handle(b []byte) {
	f, ok := parseFrame(b)
	switch {
	case !ok:
		v.r.errorFrames.Add(1)
	case f.Type == "results":
		if f.Total != nil {
			v.sawTotal(*f.Total)
		}
		if v.r.cfg.Giveaway > 0 && f.Giveaway != nil && f.Giveaway.SoldOut {
			v.sawCutoff(f.Giveaway.Cutoff)
		}
	case f.Type == "ack":
		v.ack(f.ackFrame)
	case f.Type == "error":
		v.r.errorFrames.Add(1)
		v.finish(statusErrorFrame)
	}
}

func (v *viewer) sawTotal(t int64) {
	if t != v.total.Load() {
		v.totalAt.Store(v.r.now())
		v.total.Store(t)
	}
	v.frames.Add(1)
	v.r.fan.observe(v)
}

func (v *viewer) ack(a ackFrame) {
	if a.ID != voteKey {
		v.r.errorFrames.Add(1)
		return
	}
	if a.Seq > 0 {
		v.ackAt.Store(v.r.now())
		v.seq.Store(a.Seq)
	}
	if a.Status == schema.StatusDuplicate && a.Reason == "already counted" {
		v.finish(statusCountedResend)
		return
	}
	if a.Status != schema.StatusRetry {
		v.finish(a.Status)
		return
	}
	// Send again with the same key after the wait the server asked for.
	v.votes.Load().retried()
	wait := time.Duration(a.RetryAfterMS) * time.Millisecond
	if wait <= 0 {
		wait = 500 * time.Millisecond
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return
	}
	v.r.timers.Add(1)
	v.retry = time.AfterFunc(wait, func() {
		defer v.r.timers.Done()
		if err := v.send(); err != nil {
			v.finish(statusUnsent)
		}
	})
}

// close ends the connection and a pending resend.
func (v *viewer) close() {
	v.mu.Lock()
	v.closed = true
	if v.retry != nil && v.retry.Stop() {
		v.r.timers.Done()
	}
	c := v.conn
	v.mu.Unlock()
	if c != nil {
		c.CloseNow()
	}
}

// leave closes the connection the way a viewer leaving does.
func (v *viewer) leave() {
	v.left.Store(true)
	v.close()
}
