package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/votecast/votecast/broadcast"
	"github.com/votecast/votecast/internal/apispec"
	"github.com/votecast/votecast/natsnode/natstest"
	"github.com/votecast/votecast/polls"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const adminToken = "admin-token-0123456789"

// newParts starts the real catalog, producer and hub over an embedded
// NATS server.
func newParts(t *testing.T) (*polls.Catalog, *polls.Producer, *broadcast.Hub) {
	t.Helper()
	return partsOn(t, natstest.Start(t, ""))
}

// partsOn starts the real catalog, producer and hub on env.
func partsOn(t *testing.T, env natstest.Env) (*polls.Catalog, *polls.Producer, *broadcast.Hub) {
	t.Helper()
	catalog := polls.NewCatalog(env.KV, slog.Default())
	if err := catalog.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(catalog.Close)
	producer, err := polls.NewProducer(env.KV, env.JS, polls.ProducerOptions{Shards: 2, CloseGrace: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	hub, err := broadcast.New(broadcast.Options{JS: env.JS, Polls: catalog})
	if err != nil {
		t.Fatal(err)
	}
	return catalog, producer, hub
}

// newHandler wires the handler to the real catalog, producer and hub over
// an embedded NATS server, as serve does.
func newHandler(t *testing.T) http.Handler {
	t.Helper()
	catalog, producer, hub := newParts(t)
	return newAPI(t, Options{
		AdminToken: adminToken, Catalog: catalog, Producer: producer, Totals: hub,
		AckCounts: ackCounts,
		TallyLag:  func(context.Context) (uint64, error) { return 0, nil },
		Ready:     func(context.Context) error { return nil },
	})
}

// newAPI is New(opts) for a test: every request the test makes of it and
// every answer is checked against the contract, api/openapi.yaml, and a
// mismatch fails the test.
func newAPI(t *testing.T, opts Options) http.Handler {
	t.Helper()
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return apispec.Check(t, h)
}

// ackCounts is ingest.Server.AckCounts on a node that has answered no vote.
func ackCounts() map[string]int64 {
	return map[string]int64{"accepted": 0, "duplicate": 0, "rejected": 0, "retry": 0}
}

func TestRequestBodies(t *testing.T) {
	h := newHandler(t)
	const spec = `{"question":"Which?","options":["a","b"]}`
	tooLarge := "request body larger than 16384 bytes"
	tests := []struct {
		name, method, path, body string
		wantStatus               int
		wantErr                  string // empty: success
	}{
		{"valid", "POST", "/api/polls", spec, http.StatusCreated, ""},
		{"exactly the limit", "POST", "/api/polls", spec + strings.Repeat(" ", MaxBodyBytes-len(spec)), http.StatusCreated, ""},
		{"oversized JSON", "POST", "/api/polls", `{"question":"` + strings.Repeat("q", 20<<10) + `"}`, http.StatusRequestEntityTooLarge, tooLarge},
		{"oversized non-JSON", "POST", "/api/polls", strings.Repeat("x", 17<<10), http.StatusRequestEntityTooLarge, tooLarge},
		{"one byte over, non-JSON", "POST", "/api/polls", strings.Repeat("x", MaxBodyBytes+1), http.StatusRequestEntityTooLarge, tooLarge},
		{"valid JSON padded past the limit", "POST", "/api/polls", spec + strings.Repeat(" ", 17<<10), http.StatusRequestEntityTooLarge, tooLarge},
		{"valid JSON then garbage past the limit", "POST", "/api/polls", spec + strings.Repeat("x", 17<<10), http.StatusRequestEntityTooLarge, tooLarge},
		{"oversized non-JSON edit", "PUT", "/api/polls/zzzzzzzzzz", strings.Repeat("x", 17<<10), http.StatusRequestEntityTooLarge, tooLarge},
		{"small non-JSON", "POST", "/api/polls", "xxxx", http.StatusBadRequest, "invalid JSON"},
		{"trailing value", "POST", "/api/polls", spec + " {}", http.StatusBadRequest, "trailing data"},
		{"trailing brace", "POST", "/api/polls", spec + "}", http.StatusBadRequest, "trailing data"},
		{"empty", "POST", "/api/polls", "", http.StatusBadRequest, "invalid JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			r.Header.Set("Authorization", "Bearer "+adminToken)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			var out map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
				t.Fatalf("response %q is not JSON: %v", rec.Body.String(), err)
			}
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d %v, want %d", rec.Code, out, tc.wantStatus)
			}
			msg, _ := out["error"].(string)
			if tc.wantErr == "" {
				if msg != "" || out["id"] == nil {
					t.Fatalf("got %v, want a created poll", out)
				}
				return
			}
			if !strings.Contains(msg, tc.wantErr) {
				t.Fatalf("error %q, want %q", msg, tc.wantErr)
			}
		})
	}
}
