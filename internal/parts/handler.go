package parts

import (
	"bytes"
	"net/http"
	"net/http/pprof"
	runpprof "runtime/pprof"
	"sync"
)

// maxProfileBytes bounds a CPU profile kept in memory between start and
// stop (a minute of two busy cores is well under 1 MiB).
const maxProfileBytes = 64 << 20

// Handler serves net/http/pprof under /debug/pprof/ and a CPU profile
// taken between two requests: POST /debug/votecast/cpu/start, then POST
// /debug/votecast/cpu/stop answers the profile (pprof's format). Serve it
// on a listener of its own that only operators reach: profiles show the
// node's internals.
func Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	var cpu cpuProfile
	mux.HandleFunc("POST /debug/votecast/cpu/start", cpu.start)
	mux.HandleFunc("POST /debug/votecast/cpu/stop", cpu.stop)
	return mux
}

type cpuProfile struct {
	mu  sync.Mutex
	buf *limitedBuffer // non-nil while a profile runs
}

func (c *cpuProfile) start(w http.ResponseWriter, _ *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.buf != nil {
		http.Error(w, "a CPU profile is already running: stop it first", http.StatusConflict)
		return
	}
	buf := &limitedBuffer{max: maxProfileBytes}
	if err := runpprof.StartCPUProfile(buf); err != nil {
		http.Error(w, "start the CPU profile: "+err.Error(), http.StatusConflict)
		return
	}
	c.buf = buf
	w.WriteHeader(http.StatusNoContent)
}

func (c *cpuProfile) stop(w http.ResponseWriter, _ *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.buf == nil {
		http.Error(w, "no CPU profile is running: start one first", http.StatusConflict)
		return
	}
	runpprof.StopCPUProfile()
	buf := c.buf
	c.buf = nil
	if buf.full {
		http.Error(w, "the CPU profile outgrew its 64 MiB buffer: take a shorter one", http.StatusInsufficientStorage)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(buf.Bytes())
}

// limitedBuffer keeps at most max bytes and remembers that it dropped some.
type limitedBuffer struct {
	bytes.Buffer
	max  int
	full bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.max {
		b.full = true
		return len(p), nil
	}
	return b.Buffer.Write(p)
}
