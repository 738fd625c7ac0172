package apispec

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The contract loads and is a valid OpenAPI 3.1 document.
func TestContractIsValid(t *testing.T) {
	c := Load(t)
	if v := c.Doc.OpenAPI; v != "3.1.0" {
		t.Fatalf("openapi %q, want 3.1.0", v)
	}
	if !c.Doc.IsOpenAPI31OrLater() {
		t.Fatal("not read as OpenAPI 3.1")
	}
}

// Verify catches each kind of drift it is there for, and passes the
// answers the contract describes.
func TestVerify(t *testing.T) {
	c := Load(t)
	const poll = `{"id":"abcdefghij","kind":"poll","question":"q","options":["a","b"],"votes_per_user":1,"allow_change":false,"results":"live","state":"draft","shards":2,"created_at":"2026-01-02T03:04:05Z"}`
	const spec = `{"question":"q","options":["a","b"]}`
	json := http.Header{"Content-Type": {"application/json"}}
	tests := []struct {
		name, method, path, auth, body string
		status                         int
		header                         http.Header
		answer                         string
		want                           string // a substring of the error; empty: none
	}{
		{"a created poll", "POST", "/api/polls", "Bearer x", spec, 201, json, poll, ""},
		{"a field renamed", "POST", "/api/polls", "Bearer x", spec, 201, json, strings.Replace(poll, `"question"`, `"title"`, 1), "doesn't match schema"},
		{"a status the operation lacks", "POST", "/api/polls", "Bearer x", spec, 202, json, poll, "status is not supported"},
		{"a read with the close markers", "GET", "/api/polls/abcdefghij", "", "", 200, json, strings.Replace(poll, `"shards":2`, `"shards":2,"markers":[7,9]`, 1), "markers"},
		{"a change with the close markers", "POST", "/api/polls/abcdefghij/close", "Bearer x", "", 200, json, strings.Replace(poll, `"shards":2`, `"shards":2,"markers":[7,9]`, 1), ""},
		{"an error with more than its message", "GET", "/api/polls/abcdefghij", "", "", 404, json, `{"error":"poll not found","poll":"abcdefghij"}`, "doesn't match schema"},
		{"a body the contract refuses, taken", "POST", "/api/polls", "Bearer x", `{"question":"q","options":["a"]}`, 201, json, poll, "refuses the request"},
		{"a body the contract refuses, refused", "POST", "/api/polls", "Bearer x", `{"question":"q","options":["a"]}`, 400, json, `{"error":"invalid poll: a poll needs at least 2 options"}`, ""},
		{"no producer token, taken", "GET", "/api/stats", "", "", 200, json, `{"acks":{"accepted":0,"duplicate":0,"rejected":0,"retry":0}}`, "refuses the request"},
		{"401 without its challenge", "GET", "/api/stats", "", "", 401, json, `{"error":"missing producer token"}`, `header "WWW-Authenticate"`},
		{"a route the contract lacks, answered", "GET", "/api/nowhere", "", "", 200, json, `{}`, "the contract has no GET /api/nowhere"},
		{"a route the contract lacks, not found", "DELETE", "/api/polls/abcdefghij", "", "", 404, json, `{"error":"no such endpoint"}`, ""},
		{"a HEAD, as its GET", "HEAD", "/livez", "", "", 200, json, "", ""},
		{"a HEAD with a status its GET lacks", "HEAD", "/livez", "", "", 204, json, "", "status is not supported"},
		{"text where JSON is due", "GET", "/livez", "", "", 200, http.Header{"Content-Type": {"text/plain"}}, "ok", "Content-Type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			err := c.Verify(r, []byte(tc.body), tc.status, tc.header, []byte(tc.answer))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("got %v, want no error", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}
