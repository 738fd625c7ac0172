package ingest

import (
	"bufio"
	"net"
	"net/http"
	"sync"
)

// Buffer sizes of a viewer's socket as the WebSocket library sees it.
// net/http hands a hijacked connection its 4 KiB reader and 4 KiB writer,
// held for the life of the socket: most of an idle viewer's memory. A
// viewer's frames are a few hundred bytes, so small buffers cost nothing
// in reads, and writes go through corked batches (corkConn) that borrow a
// pooled buffer only while they are written.
const (
	readBufferSize  = 512
	writeBufferSize = 256 // a control frame (at most 127 bytes) in one write
	// maxPooledBatch keeps a batch buffer that grew past it (a viewer with
	// many acks at once) out of the pool.
	maxPooledBatch = 64 << 10
)

// upgradeWriter lets websocket.Accept hijack the connection, and hands it
// a corkConn with small buffers instead of the HTTP server's. The HTTP
// server's own buffers are freed once its handler returns.
type upgradeWriter struct {
	http.ResponseWriter
	pool *sync.Pool
	conn *corkConn // set by Hijack
}

func (u *upgradeWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	rwc, brw, err := http.NewResponseController(u.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	c := &corkConn{Conn: rwc, pool: u.pool}
	if n := brw.Reader.Buffered(); n > 0 {
		// Bytes the client sent after its upgrade request, read with it.
		b, _ := brw.Reader.Peek(n)
		c.early = append([]byte(nil), b...)
	}
	u.conn = c
	return c, bufio.NewReadWriter(bufio.NewReaderSize(c, readBufferSize), bufio.NewWriterSize(c, writeBufferSize)), nil
}

// newBatchPool holds the buffers of corked batches, one per Server.
func newBatchPool() *sync.Pool {
	return &sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}
}

// corkConn is a viewer's TCP connection. Between cork and uncork, writes
// are gathered and go out in one write: the acks and the totals frame a
// writer has for a viewer leave in one system call, not one each. Outside
// a batch (the library's pongs and close frames) writes go straight
// through. Each net.Conn write is atomic, so a pong never lands inside a
// batch.
type corkConn struct {
	net.Conn
	pool  *sync.Pool
	early []byte // read before anything from Conn; reader goroutine only

	mu     sync.Mutex
	corked bool
	batch  *[]byte // borrowed from batchPool while corked
}

func (c *corkConn) Read(p []byte) (int, error) {
	if len(c.early) > 0 {
		n := copy(p, c.early)
		c.early = c.early[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.corked {
		*c.batch = append(*c.batch, p...)
		c.mu.Unlock()
		return len(p), nil
	}
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// cork starts gathering writes.
func (c *corkConn) cork() {
	c.mu.Lock()
	if !c.corked {
		c.corked, c.batch = true, c.pool.Get().(*[]byte)
	}
	c.mu.Unlock()
}

// uncork writes what was gathered in one write and returns the buffer to
// the pool, so an idle viewer holds none.
func (c *corkConn) uncork() error {
	c.mu.Lock()
	if !c.corked {
		c.mu.Unlock()
		return nil
	}
	b := c.batch
	c.corked, c.batch = false, nil
	c.mu.Unlock()
	var err error
	if len(*b) > 0 {
		_, err = c.Conn.Write(*b)
	}
	if cap(*b) <= maxPooledBatch {
		*b = (*b)[:0]
		c.pool.Put(b)
	}
	return err
}
