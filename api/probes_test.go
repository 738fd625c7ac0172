package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/votecast/votecast/internal/apispec"
	"github.com/votecast/votecast/schema"
)

// Liveness is the process answering, whatever readiness says; readiness
// is the Ready hook's word; a node without Totals (no broadcast role)
// says so for results instead of answering empty totals.
func TestProbesAndRolesOfTheHandler(t *testing.T) {
	catalog, producer, hub := newParts(t)
	poll, err := producer.Create(context.Background(), schema.PollSpec{Question: "q", Options: []string{"a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := catalog.WaitFor(context.Background(), poll.ID, func(schema.Poll) bool { return true }); err != nil {
		t.Fatal(err)
	}
	notReady := errors.New("tally is not folding (no shard lease)")
	handler := func(totals Totals, ready error) http.Handler {
		opts := Options{
			AdminToken: adminToken, Catalog: catalog, Producer: producer, Totals: totals,
			AckCounts: ackCounts,
			Ready:     func(context.Context) error { return ready },
		}
		if totals != nil { // a node with a hub here has a tally too
			opts.TallyLag = func(context.Context) (uint64, error) { return 7, nil }
		}
		return newAPI(t, opts)
	}
	// Probes alone answers to the probes' part of the contract.
	probesContract, err := apispec.Load(t).Only("/livez", "/healthz", "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	probes := func(ready error) http.Handler {
		return probesContract.Check(t, Probes(func(context.Context) error { return ready }))
	}
	tests := []struct {
		name       string
		h          http.Handler
		path       string
		wantStatus int
		wantBody   string // a substring of the answer
		notBody    string // what the answer must not hold
	}{
		{"livez", handler(hub, nil), "/livez", 200, `"status":"ok"`, ""},
		{"livez while not ready", handler(hub, notReady), "/livez", 200, `"status":"ok"`, ""},
		{"healthz, the older name", handler(hub, notReady), "/healthz", 200, `"status":"ok"`, ""},
		{"readyz", handler(hub, nil), "/readyz", 200, `"status":"ready"`, ""},
		{"readyz says why not", handler(hub, notReady), "/readyz", 503, notReady.Error(), ""},
		{"results with a hub", handler(hub, nil), "/api/polls/" + poll.ID + "/results", 200, `"counts":[0,0]`, ""},
		{"results without a broadcast role", handler(nil, nil), "/api/polls/" + poll.ID + "/results", 503, "this node has no broadcast role", ""},
		{"stats", handler(hub, nil), "/api/stats", 200, `"tally_pending":7`, ""},
		{"stats without broadcast: no viewer numbers", handler(nil, nil), "/api/stats", 200, `"acks":`, "viewers"},
		{"stats without tally: no lag", handler(nil, nil), "/api/stats", 200, `"acks":`, "tally_pending"},
		{"probes alone: livez", probes(notReady), "/livez", 200, `"status":"ok"`, ""},
		{"probes alone: readyz", probes(nil), "/readyz", 200, `"status":"ready"`, ""},
		{"probes alone: readyz says why not", probes(notReady), "/readyz", 503, notReady.Error(), ""},
		{"probes alone: no API", probes(nil), "/api/polls", 404, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tc.path, nil)
			r.Header.Set("Authorization", "Bearer "+adminToken)
			rec := httptest.NewRecorder()
			tc.h.ServeHTTP(rec, r)
			if rec.Code != tc.wantStatus || !strings.Contains(rec.Body.String(), tc.wantBody) || tc.notBody != "" && strings.Contains(rec.Body.String(), tc.notBody) {
				t.Fatalf("GET %s: %d %s, want %d with %q and without %q", tc.path, rec.Code, rec.Body.String(), tc.wantStatus, tc.wantBody, tc.notBody)
			}
			if rec.Code == 200 {
				var out map[string]any
				if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
					t.Fatalf("answer %q is not JSON: %v", rec.Body.String(), err)
				}
			}
		})
	}
}
