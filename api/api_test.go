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
	"github.com/votecast/votecast/natsnode/natstest"
	"github.com/votecast/votecast/polls"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const adminToken = "admin-token-0123456789"

// newParts starts the real catalog, producer and hub over an embedded
// NATS server.
func newParts(t *testing.T) (*polls.Catalog, *polls.Producer, *broadcast.Hub) {
	t.Helper()
	env := natstest.Start(t, "")
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
func newHandler(t *testing.T) *Handler {
	t.Helper()
	catalog, producer, hub := newParts(t)
	h, err := New(Options{
		AdminToken: adminToken, Catalog: catalog, Producer: producer, Totals: hub,
		AckCounts: func() map[string]int64 { return nil },
		TallyLag:  func(context.Context) (uint64, error) { return 0, nil },
		Ready:     func(context.Context) error { return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
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
