package waitroom

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/votecast/votecast/natsnode/natstest"
	"github.com/votecast/votecast/schema"
)

// BenchmarkJoin is a viewer joining the line: one JetStream publish with
// a dedup key (js-sync always, the default). It reports the QUEUE
// stream's bytes per entry: what a waiting viewer costs the log.
func BenchmarkJoin(b *testing.B) {
	var free atomic.Int64
	r := edge(b, natstest.Start(b, ""), "a", &free, 0)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, _, err := r.Join(ctx, fmt.Sprintf("load-1a2b-%06d", i), "pollpollpo"); err != nil {
			b.Fatal(err)
		}
		i++
	}
	info, err := r.stream.Info(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(info.State.Bytes)/float64(info.State.Msgs), "stream-bytes/entry")
}

// BenchmarkVerify checks a ticket, as every admission and every vote
// from the line does.
func BenchmarkVerify(b *testing.B) {
	s, _ := NewSigner(testKey)
	now := time.Now()
	tok := s.Sign(Ticket{User: "load-1a2b-000042", Poll: "pollpollpo", Pos: 123456, Issued: now, Expires: now.Add(time.Hour)})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Verify(tok, "load-1a2b-000042", "pollpollpo", now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLine is GET /api/queue, which every waiting page polls.
func BenchmarkLine(b *testing.B) {
	var free atomic.Int64
	r := edge(b, natstest.Start(b, "2m"), "a", &free, 0)
	h := Handler(HTTPOptions{Room: r, Poll: func(string) (schema.Poll, bool) { return schema.Poll{}, false }})
	req := httptest.NewRequest("GET", "/api/queue", nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
	}
}
