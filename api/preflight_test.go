package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/votecast/votecast/natsnode"
	"github.com/votecast/votecast/preflight"
)

// TestPreflightAnswer: GET /api/preflight is for the producer's token
// only, and answers what the node reports, in the contract's shape
// (newAPI checks it), its optional parts set and unset.
func TestPreflightAnswer(t *testing.T) {
	full := preflight.NodeReport{
		Version: "v1", Roles: "ingest,broadcast,tally",
		Facts:          preflight.Facts{NATS: "external", Store: "scylla", StorePool: 2},
		Limits:         preflight.Limits{MaxConns: 10, MaxConnsPerIP: 5, VoteRate: 5, MaxVoteRate: 100, AdmitRate: 10, MaxInFlight: 64, MaxDeliveries: 1000, TotalsIntervalMS: 100, StallTimeoutMS: 2000, Replicas: 3, Shards: 16},
		OpenFilesLimit: 1 << 20, MemoryBytes: 8 << 30, Connections: 3,
		Log: []natsnode.StreamHealth{
			{Name: "VOTES", Replicas: 3, Current: 3, Leader: "n1", Cluster: true, Msgs: 12},
			{Name: "TALLY", Replicas: 3, Error: "stream info: context deadline exceeded"},
		},
		Shards: preflight.Shards{Wanted: 16, Unowned: []int{3}, Members: 1},
		Store:  &preflight.StoreState{Kind: "scylla", Error: "ping: no hosts"},
		Polls:  []preflight.PollState{{ID: "abcdefghij", Question: "Q?", State: "closing", Shards: 16, Votes: -1}},
	}
	bare := preflight.NodeReport{Facts: preflight.Facts{NATS: "embedded", JSSync: "always"}, Limits: preflight.Limits{Replicas: 1, Shards: 1},
		Log: []natsnode.StreamHealth{}, Shards: preflight.Shards{Unowned: []int{}}, Polls: []preflight.PollState{}}
	for name, report := range map[string]preflight.NodeReport{"every part": full, "no tally, no polls": bare} {
		t.Run(name, func(t *testing.T) {
			catalog, producer, hub := newParts(t)
			h := newAPI(t, Options{
				AdminToken: adminToken, Catalog: catalog, Producer: producer, Totals: hub, AckCounts: ackCounts,
				Ready:     func(context.Context) error { return nil },
				Preflight: func(context.Context) any { return report },
			})
			req := httptest.NewRequest("GET", "/api/preflight", nil)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusUnauthorized {
				t.Fatalf("without a token: %d %s", w.Code, w.Body)
			}
			req.Header.Set("Authorization", "Bearer "+adminToken)
			w = httptest.NewRecorder()
			h.ServeHTTP(w, req)
			var back preflight.NodeReport
			if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &back) != nil || back.Version != report.Version || len(back.Log) != len(report.Log) {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
		})
	}
}
