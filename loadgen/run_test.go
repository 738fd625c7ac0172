package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/votecast/votecast/schema"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeServer speaks votecast's wire protocol just enough to drive Run
// without the real server (that end-to-end test lives in cmd/votecast):
// it answers every connection's first vote with retry, and counts the
// resend.
type fakeServer struct {
	mu     sync.Mutex
	counts []int64
	conns  map[*websocket.Conn]bool
	// overAfter > 0 inflates the totals by one once that many votes are
	// in, to test the exactness checks.
	overAfter int64
}

func (f *fakeServer) totals() schema.Totals {
	t := schema.Totals{Poll: "fakepoll22", State: schema.Open, Counts: append([]int64(nil), f.counts...)}
	for _, c := range f.counts {
		t.Total += c
	}
	if f.overAfter > 0 && t.Total >= f.overAfter {
		t.Counts[0]++
		t.Total++
	}
	return t
}

func (f *fakeServer) handler(t *testing.T) http.Handler {
	m := http.NewServeMux()
	poll := schema.Poll{ID: "fakepoll22", Options: []string{"a", "b", "c"}, Results: schema.ResultsLive, State: schema.Draft}
	js := func(w http.ResponseWriter, v any) { _ = json.NewEncoder(w).Encode(v) }
	m.HandleFunc("POST /api/polls", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201); js(w, poll) })
	m.HandleFunc("POST /api/polls/{id}/open", func(w http.ResponseWriter, r *http.Request) { poll.State = schema.Open; js(w, poll) })
	m.HandleFunc("GET /api/polls/{id}/results", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		js(w, f.totals())
	})
	m.HandleFunc("GET /api/stats", func(w http.ResponseWriter, r *http.Request) { js(w, map[string]int{"tally_pending": 0}) })
	m.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "process_cpu_seconds_total 1.5\nprocess_resident_memory_bytes 1e+07\n")
	})
	m.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("token") == "" {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		f.mu.Lock()
		f.conns[c] = true
		first := schema.EncodeResults(f.totals(), true)
		f.mu.Unlock()
		ctx := context.Background()
		_ = c.Write(ctx, websocket.MessageText, first)
		retried := false
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				f.mu.Lock()
				delete(f.conns, c)
				f.mu.Unlock()
				return
			}
			v, err := schema.DecodeClientFrame(b)
			if err != nil {
				t.Errorf("fake server: %v", err)
				return
			}
			if !retried {
				retried = true
				_ = c.Write(ctx, websocket.MessageText, schema.AppendAck(nil, schema.Ack{ID: v.ID, Status: schema.StatusRetry, RetryAfterMS: 5}))
				continue
			}
			_ = c.Write(ctx, websocket.MessageText, schema.AppendAck(nil, schema.Ack{ID: v.ID, Status: schema.StatusAccepted}))
			f.mu.Lock()
			f.counts[v.Option]++
			frame := schema.EncodeResults(f.totals(), true)
			for other := range f.conns {
				_ = other.Write(ctx, websocket.MessageText, frame)
			}
			f.mu.Unlock()
		}
	})
	return m
}

func runFake(t *testing.T, overAfter int64) (*Report, string) {
	t.Helper()
	f := &fakeServer{counts: make([]int64, 3), conns: map[*websocket.Conn]bool{}, overAfter: overAfter}
	srv := httptest.NewServer(f.handler(t))
	defer srv.Close()
	var progress bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := Run(ctx, Config{
		URL: srv.URL, AdminToken: "t", ViewerSecret: []byte("s"), Viewers: 30, Probes: 2,
		Settle: time.Millisecond, PhaseTimeout: 3 * time.Second, Progress: &progress,
	})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep.WriteSummary(&out)
	return rep, out.String()
}

func TestRunAgainstFakeServer(t *testing.T) {
	rep, out := runFake(t, 0)
	if !rep.OK() || rep.Accepted != 30 || rep.Retries != 30 || rep.Probes != 2 || !rep.Exact {
		t.Fatalf("report:\n%s", out)
	}
	if rep.Counts[0] != 11 || rep.Counts[1] != 11 || rep.Counts[2] != 10 {
		t.Fatalf("counts %v, want [11 11 10]", rep.Counts)
	}
	if rep.AnswerMS.P50 < 5 {
		t.Fatalf("first send to final answer %v ms, want at least the 5 ms retry wait", rep.AnswerMS.P50)
	}
}

func TestRunReportsOvercount(t *testing.T) {
	rep, out := runFake(t, 30)
	if rep.OK() || rep.Exact || !strings.Contains(out, "saw total") {
		t.Fatalf("an inflated total passed:\n%s", out)
	}
}
