package ingest

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

const (
	// writeTimeout is how long one write may take before the janitor
	// closes the socket.
	writeTimeout = 10 * time.Second
	// writerLinger is how long a writer waits for more frames before it
	// ends: long enough to outlive the gaps between totals frames while a
	// poll is live (no goroutine start per delivery), short enough that
	// the idle viewers of a quiet moment have none.
	writerLinger = 5 * time.Second
)

// outbox holds what a viewer is owed: acks in order, and only the newest
// results frame (a slow viewer gets the latest totals, never a backlog).
// A writer goroutine runs only while frames keep coming (it lingers
// writerLinger after the last), so the idle viewers of a show cost no
// goroutine each; a socket stuck in a write blocks no one but its writer.
type outbox struct {
	mu      sync.Mutex
	results []byte // the newest totals frame not yet written; nil: none
	acks    [][]byte
	running bool          // a writer goroutine is on it
	wake    chan struct{} // wakes a lingering writer; capacity 1
	dead    bool          // the socket failed or was closed: write nothing more
	// kick, once set, makes the writer write the queued acks, then close
	// with this status and close closed.
	kickCode   websocket.StatusCode
	kickReason string
	kicked     bool
	closed     chan struct{} // made by kick; closed once nothing more will be written
	closeOnce  sync.Once
	// writeStart is when the write under way began (unix ns), 0 when none
	// is; the server's janitor closes sockets stuck in a write.
	writeStart atomic.Int64
}

// Offer is the broadcast feed's hand-off: keep the newest frame and make
// sure a writer runs. It never blocks.
func (v *viewer) Offer(frame []byte) {
	v.wakeWith(func(o *outbox) { o.results = frame })
}

// send queues an ack. A viewer with ackQueue unwritten acks is too slow to
// keep: it is disconnected rather than allowed to hold anyone up.
func (v *viewer) send(frame []byte) {
	full := false
	v.wakeWith(func(o *outbox) {
		if full = len(o.acks) >= ackQueue; !full {
			o.acks = append(o.acks, frame)
		}
	})
	if full {
		v.kick(websocket.StatusPolicyViolation, reasonTooSlow)
	}
}

// kick ends the connection from the server's side, once: the writer
// writes the acks already queued, then the close frame.
func (v *viewer) kick(code websocket.StatusCode, reason string) {
	v.out.mu.Lock()
	if v.out.kicked {
		v.out.mu.Unlock()
		return
	}
	v.out.kicked, v.out.kickCode, v.out.kickReason = true, code, reason
	v.s.metrics.kicked.WithLabelValues(kickLabels[reason]).Inc()
	v.out.closed = make(chan struct{})
	dead := v.out.dead
	v.out.mu.Unlock()
	if dead {
		v.out.markClosed() // no writer will come: nothing to wait for
		return
	}
	v.wake()
}

// markClosed tells serve that nothing more will be written.
func (o *outbox) markClosed() {
	o.mu.Lock()
	closed := o.closed
	o.mu.Unlock()
	o.closeOnce.Do(func() { close(closed) })
}

func (v *viewer) goAway() { v.kick(websocket.StatusGoingAway, reasonShutdown) }

func (o *outbox) closing() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.kicked
}

// endWrites ends the writer when the connection is over: nothing more is
// written, and a lingering writer exits now rather than at its timer.
func (v *viewer) endWrites() {
	v.out.mu.Lock()
	v.out.dead = true
	wake := v.out.wake
	v.out.mu.Unlock()
	if wake != nil {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
}

// wake nudges the running writer, or starts one unless the socket is dead.
func (v *viewer) wake() { v.wakeWith(nil) }

// wakeWith is wake that first applies put to the outbox under its lock:
// one lock per delivery, and no allocation to hand a frame over.
func (v *viewer) wakeWith(put func(*outbox)) {
	v.out.mu.Lock()
	if put != nil {
		put(&v.out)
	}
	if v.out.wake == nil {
		v.out.wake = make(chan struct{}, 1)
	}
	running, dead := v.out.running, v.out.dead
	v.out.running = running || !dead
	v.out.mu.Unlock()
	switch {
	case running:
		select {
		case v.out.wake <- struct{}{}:
		default: // a wake-up is already pending
		}
	case !dead:
		go v.writeOut()
	}
}

// writeOut writes until the outbox has stayed empty for writerLinger,
// then ends. The running flag is cleared under the lock that guards the
// queue, so a frame queued at that moment is either seen here or starts a
// new writer.
func (v *viewer) writeOut() {
	idle := time.NewTimer(writerLinger)
	defer idle.Stop()
	for {
		v.out.mu.Lock()
		if v.out.dead && !v.out.kicked {
			v.out.running = false
			v.out.mu.Unlock()
			return
		}
		acks := v.out.acks
		v.out.acks = nil
		results := v.out.results
		v.out.results = nil
		kicked := v.out.kicked
		if len(acks) == 0 && results == nil && !kicked {
			v.out.mu.Unlock()
			select {
			case <-v.out.wake:
				continue
			case <-idle.C:
			}
			v.out.mu.Lock()
			if len(v.out.acks) == 0 && v.out.results == nil && !v.out.kicked {
				v.out.running = false
				v.out.mu.Unlock()
				return
			}
			v.out.mu.Unlock()
			idle.Reset(writerLinger)
			continue
		}
		v.out.mu.Unlock()
		idle.Reset(writerLinger)
		if kicked {
			results = nil // the close frame follows the acks
		}
		if !v.write(acks, results) {
			return
		}
		if kicked {
			v.finishKick()
			return
		}
	}
}

// finishKick writes what is left of the acks and the close frame.
func (v *viewer) finishKick() {
	v.out.mu.Lock()
	acks := v.out.acks
	v.out.acks = nil
	code, reason := v.out.kickCode, v.out.kickReason
	v.out.mu.Unlock()
	if !v.write(acks, nil) {
		return // write marked the outbox closed
	}
	v.out.mu.Lock()
	v.out.dead = true
	v.out.mu.Unlock()
	v.out.writeStart.Store(time.Now().UnixNano())
	_ = v.c.Close(code, reason)
	v.out.writeStart.Store(0)
	v.out.markClosed()
}

// write sends a round's frames, the acks in order and then the totals,
// in one system call (corkConn): an ack and a totals frame due together
// cost one write, not two. It sets no timer (a timer per frame per viewer
// was most of the fan-out's cost); a write stuck past writeTimeout is
// ended by the server's janitor closing the socket.
func (v *viewer) write(acks [][]byte, results []byte) bool {
	if len(acks) == 0 && results == nil {
		return true
	}
	switch {
	case results == nil:
		v.s.writeParts[0].Set()
	case len(acks) == 0:
		v.s.writeParts[1].Set()
	default:
		v.s.writeParts[2].Set()
	}
	v.out.writeStart.Store(time.Now().UnixNano())
	if v.wire != nil {
		v.wire.cork()
	}
	var err error
	for _, a := range acks {
		if err = v.c.Write(context.Background(), websocket.MessageText, a); err != nil {
			break
		}
	}
	if err == nil && results != nil {
		err = v.c.Write(context.Background(), websocket.MessageText, results)
	}
	if v.wire != nil {
		if uerr := v.wire.uncork(); err == nil {
			err = uerr
		}
	}
	v.out.writeStart.Store(0)
	if err != nil {
		v.out.mu.Lock()
		v.out.dead = true
		kicked := v.out.kicked
		v.out.mu.Unlock()
		v.c.CloseNow()
		if kicked {
			v.out.markClosed() // nothing more will be written: serve may return
		}
		return false
	}
	return true
}
