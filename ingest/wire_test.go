package ingest

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// writesConn records each Write it is given.
type writesConn struct {
	net.Conn
	mu     sync.Mutex
	writes []string
	reads  []byte
}

func (w *writesConn) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes = append(w.writes, string(p))
	return len(p), nil
}

func (w *writesConn) Read(p []byte) (int, error) {
	n := copy(p, w.reads)
	w.reads = w.reads[n:]
	return n, nil
}

func TestCorkedWritesLeaveInOneWrite(t *testing.T) {
	under := &writesConn{}
	c := &corkConn{Conn: under, pool: newBatchPool()}
	c.cork()
	for _, s := range []string{"ack-1", "ack-2", "totals"} {
		if _, err := c.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if len(under.writes) != 0 {
		t.Fatalf("written while corked: %q", under.writes)
	}
	if err := c.uncork(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	want := []string{"ack-1ack-2totals", "pong"}
	if strings.Join(under.writes, "|") != strings.Join(want, "|") {
		t.Fatalf("writes %q, want %q", under.writes, want)
	}
	if c.batch != nil {
		t.Fatal("an uncorked connection still holds a batch buffer")
	}
}

func TestBytesReadWithTheUpgradeComeFirst(t *testing.T) {
	c := &corkConn{Conn: &writesConn{reads: []byte("later")}, early: []byte("early")}
	var got []byte
	buf := make([]byte, 3)
	for range 10 {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:n]...)
	}
	if string(got) != "earlylater" {
		t.Fatalf("read %q, want earlylater", got)
	}
}

// Through a real WebSocket handshake: the library works on the corked
// connection with small buffers, frames larger than those buffers
// included, both ways.
func TestUpgradedConnectionCarriesFramesBothWays(t *testing.T) {
	big := strings.Repeat("x", 3*readBufferSize)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		uw := &upgradeWriter{ResponseWriter: w, pool: newBatchPool()}
		c, err := websocket.Accept(uw, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := context.Background()
		uw.conn.cork()
		_ = c.Write(ctx, websocket.MessageText, []byte("ack"))
		_ = c.Write(ctx, websocket.MessageText, []byte(big))
		if err := uw.conn.uncork(); err != nil {
			return
		}
		_, msg, err := c.Read(ctx)
		if err != nil {
			return
		}
		_ = c.Write(ctx, websocket.MessageText, msg) // uncorked: straight through
		_, _, _ = c.Read(ctx)                        // until the client closes
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	for _, want := range []string{"ack", big} {
		_, got, err := c.Read(ctx)
		if err != nil || string(got) != want {
			t.Fatalf("read %d bytes (%v), want %d", len(got), err, len(want))
		}
	}
	if err := c.Write(ctx, websocket.MessageText, []byte(big+"!")); err != nil {
		t.Fatal(err)
	}
	if _, got, err := c.Read(ctx); err != nil || string(got) != big+"!" {
		t.Fatalf("echo of %d bytes: %d bytes (%v)", len(big)+1, len(got), err)
	}
	c.Close(websocket.StatusNormalClosure, "")
}
