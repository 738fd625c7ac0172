package api

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/votecast/votecast/certify"
	"github.com/votecast/votecast/internal/apispec"
	"github.com/votecast/votecast/natsnode"
	"github.com/votecast/votecast/natsnode/natstest"
	"github.com/votecast/votecast/preflight"
	"github.com/votecast/votecast/schema"
	"github.com/votecast/votecast/waitroom"
)

// GET /api/openapi.yaml serves api/openapi.yaml as built in, and it is a
// valid OpenAPI 3.1 document.
func TestContractIsServed(t *testing.T) {
	rec := httptest.NewRecorder()
	newHandler(t).ServeHTTP(rec, httptest.NewRequest("GET", "/api/openapi.yaml", nil))
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/yaml" {
		t.Fatalf("GET /api/openapi.yaml: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	file, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rec.Body.Bytes(), file) || !bytes.Equal(Contract, file) {
		t.Fatal("the contract served is not api/openapi.yaml")
	}
	c, err := apispec.Parse(rec.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !c.Doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi %q, want 3.1", c.Doc.OpenAPI)
	}
}

// The contract takes a poll definition exactly when the server does, at
// each of the server's limits; the gaps JSON Schema cannot close are
// listed, and fail here once closed.
func TestContractKeepsThePollLimits(t *testing.T) {
	catalog, producer, _ := newParts(t)
	h, err := New(Options{AdminToken: adminToken, Catalog: catalog, Producer: producer, AckCounts: ackCounts,
		Ready: func(context.Context) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	contract := apispec.Load(t)
	text := func(n int) string { return `"` + strings.Repeat("q", n) + `"` }
	options := func(n int) string { return "[" + strings.Repeat(`"o",`, n)[:max(4*n-1, 0)] + "]" }
	spec := func(fields string) string { return `{"question":"q","options":["a","b"]` + fields + `}` }
	tests := []struct {
		name, body string
		takes      bool   // the server creates the poll
		gap        string // why the contract says otherwise; empty: it agrees
	}{
		{"the least", spec(""), true, ""},
		{"no question", `{"options":["a","b"]}`, false, ""},
		{"blank question", `{"question":"  ","options":["a","b"]}`, false, ""},
		{"longest question", fmt.Sprintf(`{"question":%s,"options":["a","b"]}`, text(schema.MaxQuestionBytes)), true, ""},
		{"question too long", fmt.Sprintf(`{"question":%s,"options":["a","b"]}`, text(schema.MaxQuestionBytes+1)), false, ""},
		{"question too long in bytes", fmt.Sprintf(`{"question":"%s","options":["a","b"]}`, strings.Repeat("é", schema.MaxQuestionBytes/2+1)), false,
			"maxLength counts characters, the server bytes"},
		{"question padded past the limit", fmt.Sprintf(`{"question":"%s ","options":["a","b"]}`, strings.Repeat("q", schema.MaxQuestionBytes)), true,
			"the server trims before it counts"},
		{"too few options", fmt.Sprintf(`{"question":"q","options":%s}`, options(schema.MinOptions-1)), false, ""},
		{"most options", fmt.Sprintf(`{"question":"q","options":%s}`, options(schema.MaxOptions)), true, ""},
		{"too many options", fmt.Sprintf(`{"question":"q","options":%s}`, options(schema.MaxOptions+1)), false, ""},
		{"longest option", fmt.Sprintf(`{"question":"q","options":["a",%s]}`, text(schema.MaxOptionBytes)), true, ""},
		{"option too long", fmt.Sprintf(`{"question":"q","options":["a",%s]}`, text(schema.MaxOptionBytes+1)), false, ""},
		{"blank option", `{"question":"q","options":["a"," "]}`, false, ""},
		{"largest budget", spec(fmt.Sprintf(`,"votes_per_user":%d,"allow_change":true`, schema.MaxVotesPerUser)), true, ""},
		{"budget too large", spec(fmt.Sprintf(`,"votes_per_user":%d`, schema.MaxVotesPerUser+1)), false, ""},
		{"budget 0 is 1", spec(`,"votes_per_user":0`), true, ""},
		{"negative budget", spec(`,"votes_per_user":-1`), false, ""},
		{"hidden results", spec(`,"results":"hidden"`), true, ""},
		{"unknown results", spec(`,"results":"later"`), false, ""},
		{"unknown kind", spec(`,"kind":"raffle"`), false, ""},
		{"unknown field", spec(`,"title":"t"`), false, ""},
		{"a poll with prizes", spec(`,"prizes":1`), false, ""},
		{"a poll with an answer", spec(`,"answer":0`), false, ""},
		{"a quiz giveaway", spec(`,"kind":"giveaway","prizes":1,"answer":1`), true, ""},
		{"most prizes", spec(fmt.Sprintf(`,"kind":"giveaway","prizes":%d,"votes_per_user":1`, schema.MaxPrizes)), true, ""},
		{"too many prizes", spec(fmt.Sprintf(`,"kind":"giveaway","prizes":%d`, schema.MaxPrizes+1)), false, ""},
		{"a giveaway without prizes", spec(`,"kind":"giveaway"`), false, ""},
		{"a giveaway with a budget", spec(`,"kind":"giveaway","prizes":1,"votes_per_user":2`), false, ""},
		{"a giveaway with changes", spec(`,"kind":"giveaway","prizes":1,"allow_change":true`), false, ""},
		{"an answer past the options", spec(`,"kind":"giveaway","prizes":1,"answer":2`), false,
			"the answer's bound is the number of options"},
		{"null for absent", spec(`,"results":null`), true, "encoding/json takes null as absent"},
		{"a field name in capitals", `{"Question":"q","options":["a","b"]}`, true, "encoding/json matches names case-insensitively"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/api/polls", strings.NewReader(tc.body))
			r.Header.Set("Authorization", "Bearer "+adminToken)
			refusal := contract.CheckRequest(r.Clone(context.Background()), []byte(tc.body))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if took := rec.Code == http.StatusCreated; took != tc.takes || !took && rec.Code != http.StatusBadRequest {
				t.Fatalf("the server answered %d %s", rec.Code, rec.Body)
			}
			if agree := (refusal == nil) == tc.takes; agree != (tc.gap == "") {
				t.Fatalf("the server takes it: %v; the contract refuses it: %v; known gap: %q", tc.takes, refusal, tc.gap)
			}
		})
	}
}

// Every operation of the contract but the waiting room's (which
// waitroom's tests cover) is called here, on a node with every role, and
// answers success and its errors as the contract says; the contract's
// checking handler (newAPI) fails the test on any answer it lacks.
func TestEveryOperationKeepsTheContract(t *testing.T) {
	env := natstest.Start(t, "")
	catalog, producer, hub := partsOn(t, env)
	ctx := context.Background()
	_, key, _ := ed25519.GenerateKey(nil)
	certs, err := certify.NewService(ctx, env.JS, key)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := waitroom.NewSigner(waitroom.DeriveKey(adminToken))
	if err != nil {
		t.Fatal(err)
	}
	room, err := waitroom.New(ctx, waitroom.Options{JS: env.JS, Signer: signer, Edge: "a", Free: func() int { return 10 }})
	if err != nil {
		t.Fatal(err)
	}
	h := newAPI(t, Options{
		AdminToken: adminToken, Catalog: catalog, Producer: producer, Totals: hub,
		AckCounts: ackCounts, TallyLag: func(context.Context) (uint64, error) { return 3, nil },
		Ready: func(context.Context) error { return nil }, Queue: room, Certificates: certs,
		// What this NATS really says of the streams; the rest as a node
		// with every role fills it.
		Preflight: func(ctx context.Context) any {
			return preflight.NodeReport{
				Facts: preflight.Facts{NATS: "embedded", JSSync: "always", Store: "embedded"}, Limits: preflight.Limits{Replicas: 1, Shards: 16},
				Log:    natsnode.Health(ctx, env.JS, 2*time.Second, natsnode.HealthStreams...),
				Shards: preflight.Shards{Wanted: 16, Unowned: []int{}}, Store: &preflight.StoreState{Kind: "embedded"}, Polls: []preflight.PollState{},
			}
		},
		// The viewer is whom ?token= names.
		Identify: func(_ http.ResponseWriter, r *http.Request) (string, string, error) {
			if u := r.URL.Query().Get("token"); u != "" {
				return u, "", nil
			}
			return "", "", errors.New("unauthorized: a viewer token is required")
		},
	})
	contract := apispec.Load(t)
	succeeded := map[string]bool{}
	call := func(want int, method, path, auth, body string) []byte {
		t.Helper()
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		if auth != "" {
			r.Header.Set("Authorization", "Bearer "+auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, rec.Code, rec.Body, want)
		}
		if op, err := contract.Operation(r); err == nil && want < 300 {
			succeeded[op] = true
		}
		return rec.Body.Bytes()
	}
	create := func(spec string) string {
		t.Helper()
		var p schema.Poll
		if err := json.Unmarshal(call(201, "POST", "/api/polls", adminToken, spec), &p); err != nil {
			t.Fatal(err)
		}
		return p.ID
	}
	vote := func(p, user string, shards, option int) uint64 {
		t.Helper()
		ack, err := env.JS.Publish(ctx, schema.VoteSubject(p, schema.ShardOf(user, shards)),
			schema.AppendVoteEvent(nil, user, schema.VoteFrame{ID: "k-" + user, Option: option, Count: 1}))
		if err != nil {
			t.Fatal(err)
		}
		return ack.Sequence
	}
	const nowhere = "/api/polls/abcdefghij" // no poll has this id (50 bits)

	// Polls, and the producer token.
	p := create(`{"question":"Best goal?","options":["Kim","Son"]}`)
	call(401, "POST", "/api/polls", "", `{"question":"q","options":["a","b"]}`)
	call(403, "POST", "/api/polls", "not-the-producer-token", `{"question":"q","options":["a","b"]}`)
	call(400, "POST", "/api/polls", adminToken, `{"question":"q","options":["a"]}`)
	call(200, "PUT", "/api/polls/"+p, adminToken, `{"question":"Best goal?","options":["Kim","Son","Lee"]}`)
	call(404, "PUT", nowhere, adminToken, `{"question":"q","options":["a","b"]}`)
	call(200, "GET", "/api/polls", adminToken, "")
	call(200, "GET", "/api/polls?state=open", "", "")
	call(401, "GET", "/api/polls", "", "")
	call(200, "GET", "/api/polls/"+p, "", "")
	call(404, "GET", nowhere, "", "")
	call(404, "POST", nowhere+"/open", adminToken, "")
	call(409, "GET", "/api/polls/"+p+"/certificate", "", "")
	call(200, "POST", "/api/polls/"+p+"/open", adminToken, "")
	call(409, "PUT", "/api/polls/"+p, adminToken, `{"question":"q","options":["a","b"]}`)
	call(200, "GET", "/api/polls/"+p+"/results", "", "")
	call(200, "GET", "/api/polls/"+p+"/results?format=csv", "", "")
	hidden := create(`{"question":"q","options":["a","b"],"results":"hidden"}`)
	call(403, "GET", "/api/polls/"+hidden+"/results", "", "")
	seq := vote(p, "viewer-1", 2, 1)
	vote(p, "viewer-2", 2, 0)
	call(200, "POST", "/api/polls/"+p+"/close", adminToken, "")

	// Certificates, receipts and the export.
	var cert certify.Certificate
	if err := json.Unmarshal(call(200, "GET", "/api/polls/"+p+"/certificate", "", ""), &cert); err != nil {
		t.Fatal(err)
	}
	checkPayload(t, contract.Doc, cert.Payload)
	call(200, "GET", fmt.Sprintf("/api/polls/%s/receipt?seq=%d", p, seq), "", "")
	call(400, "GET", "/api/polls/"+p+"/receipt", "", "")
	call(400, "GET", "/api/polls/"+p+"/receipt?seq=0", "", "")
	call(404, "GET", "/api/polls/"+p+"/receipt?seq=999999", "", "")
	call(200, "GET", "/api/polls/"+p+"/export", adminToken, "")
	call(401, "GET", "/api/polls/"+p+"/export", "", "")
	call(200, "GET", "/.well-known/votecast-key", "", "")
	call(200, "GET", "/api/preflight", adminToken, "")
	call(401, "GET", "/api/preflight", "", "")

	// A quiz giveaway: viewer-1 is on the answer, viewer-2 is not.
	g := create(`{"kind":"giveaway","prizes":1,"answer":1,"question":"q","options":["a","b"]}`)
	call(200, "POST", "/api/polls/"+g+"/open", adminToken, "")
	vote(g, "viewer-2", 1, 0)
	vote(g, "viewer-1", 1, 1)
	call(200, "GET", "/api/polls/"+g+"/results", "", "")
	call(409, "GET", "/api/polls/"+g+"/outcome?token=viewer-1", "", "")
	call(200, "POST", "/api/polls/"+g+"/close", adminToken, "")
	call(200, "GET", "/api/polls/"+g+"/outcome?token=viewer-1", "", "")
	call(200, "GET", "/api/polls/"+g+"/outcome?token=viewer-2", "", "")
	call(401, "GET", "/api/polls/"+g+"/outcome", "", "")
	call(404, "GET", "/api/polls/"+p+"/outcome?token=viewer-1", "", "")

	// Operations.
	call(200, "PUT", "/api/queue/rate", adminToken, `{"rate":50}`)
	call(400, "PUT", "/api/queue/rate", adminToken, `{"rate":-1}`)
	call(400, "PUT", "/api/queue/rate", adminToken, `{}`)
	call(200, "GET", "/api/stats", adminToken, "")
	call(200, "GET", "/api/openapi.yaml", "", "")
	call(200, "GET", "/livez", "", "")
	call(200, "GET", "/healthz", "", "")
	call(200, "GET", "/readyz", "", "")
	call(404, "GET", "/api/nowhere", "", "")
	call(404, "DELETE", "/api/polls/"+p, adminToken, "")

	waitroomServes := []string{"joinQueue", "getQueue", "voteFromQueue"} // waitroom.Handler
	var missed []string
	for path, item := range contract.Doc.Paths.Map() {
		for method, op := range item.Operations() {
			if !succeeded[op.OperationID] && !slices.Contains(waitroomServes, op.OperationID) {
				missed = append(missed, method+" "+path)
			}
		}
	}
	if len(missed) > 0 {
		slices.Sort(missed)
		t.Fatalf("never answered with success here: %v", missed)
	}
}

// checkPayload checks a certificate's payload against the contract's
// CertificatePayload: the contract can only annotate it (contentSchema).
func checkPayload(t *testing.T, doc *openapi3.T, payload string) {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(payload), &v); err != nil {
		t.Fatal(err)
	}
	s := doc.Components.Schemas["CertificatePayload"]
	if s == nil {
		t.Fatal("the contract has no CertificatePayload")
	}
	if err := s.Value.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
		t.Fatalf("the certificate's payload is not the contract's: %v", err)
	}
}
