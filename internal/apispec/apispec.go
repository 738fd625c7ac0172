// Package apispec checks, in tests, HTTP traffic against votecast's
// contract, api/openapi.yaml: Check wraps a handler so that every request a
// test makes of it and every answer it gives is checked, and a mismatch
// fails the test. It embeds nothing: Load reads the file from the module's
// tree, so the api and waitroom tests (waitroom cannot import api) check
// the file as it is.
//
// The check, per request:
//   - a route the contract lacks may only be answered 404 or 405 (the
//     server's "no such endpoint"); anything else is a route to document;
//   - a request the contract refuses (a body off its schema, a missing
//     parameter or producer token) must not be answered with a success;
//   - every answer's status must be one the operation lists, with its
//     documented headers and a body of its content type and schema.
//
// A request body is checked as JSON whatever its Content-Type says, as the
// server reads it. A HEAD is checked as its GET, but for the body.
//
// Concurrency: a Contract is immutable once loaded, but for its record of
// exchanges already checked, and safe for concurrent use; Check's handler
// may serve on any goroutine and reports through testing.TB.Errorf, which
// may too.
package apispec

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// File is the contract's path from the module's root.
const File = "api/openapi.yaml"

func init() {
	// The export's lines are checked as one string, as the contract
	// describes them.
	openapi3filter.RegisterBodyDecoder("application/x-ndjson", openapi3filter.PlainBodyDecoder)
}

// Contract is a loaded, valid OpenAPI document and its routes.
type Contract struct {
	Doc    *openapi3.T
	router routers.Router
	// passed holds the exchanges Check found to keep the contract (a hash
	// of all Verify reads), so that a test sending the same request many
	// times pays for one check: kin-openapi compiles a schema per check,
	// about a millisecond, which a rate limiter's test cannot spare.
	passed sync.Map
}

// Parse loads an OpenAPI document, validates it and routes its paths.
func Parse(data []byte) (*Contract, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("load the contract: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("validate the contract: %w", err)
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route the contract: %w", err)
	}
	return &Contract{Doc: doc, router: router}, nil
}

var loaded = sync.OnceValues(func() (*Contract, error) {
	path, err := contractPath()
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the contract: %w", err)
	}
	return Parse(data)
})

// contractPath finds File above the working directory (a package's
// directory under go test) at the module's root, beside go.mod.
func contractPath() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, filepath.FromSlash(File)), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find the contract: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Load returns the module's contract, read once per test binary; it fails
// tb if the file does not load or is not a valid OpenAPI document.
func Load(tb testing.TB) *Contract {
	tb.Helper()
	c, err := loaded()
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// Check is Load(tb).Check(tb, h).
func Check(tb testing.TB, h http.Handler) http.Handler {
	tb.Helper()
	return Load(tb).Check(tb, h)
}

// Check wraps h: each request is served by h into a recorder, checked with
// its answer (Verify), and the answer is then written to the caller as h
// wrote it. A mismatch fails tb, naming the request.
func (c *Contract) Check(tb testing.TB, h http.Handler) http.Handler {
	return checked{c: c, tb: tb, h: h}
}

type checked struct {
	c  *Contract
	tb testing.TB
	h  http.Handler
}

func (k checked) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	k.tb.Helper()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		k.tb.Errorf("contract: read the body of %s %s: %v", r.Method, r.URL.RequestURI(), err)
	}
	// The handler gets its own copy: a ServeMux records the matched
	// pattern on the request it serves.
	seen := r.Clone(r.Context())
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := httptest.NewRecorder()
	k.h.ServeHTTP(rec, r)
	res := rec.Result()
	id := exchange(seen, body, res.StatusCode, res.Header, rec.Body.Bytes())
	if _, ok := k.c.passed.Load(id); !ok {
		if err := k.c.Verify(seen, body, res.StatusCode, res.Header, rec.Body.Bytes()); err != nil {
			k.tb.Errorf("contract %s: %s %s answered %d %.300s\n%v", File, r.Method, r.URL.RequestURI(), res.StatusCode, rec.Body.Bytes(), err)
		} else {
			k.c.passed.Store(id, true)
		}
	}
	for name, values := range res.Header {
		w.Header()[name] = values
	}
	w.WriteHeader(res.StatusCode)
	_, _ = w.Write(rec.Body.Bytes())
}

// exchange identifies a request and its answer by everything Verify reads
// of them: the method, the URL, the request's headers and body, the status,
// the answer's headers and body.
func exchange(req *http.Request, body []byte, status int, header http.Header, answer []byte) [sha256.Size]byte {
	h := sha256.New()
	fmt.Fprintf(h, "%s %s\n", req.Method, req.URL.RequestURI())
	_ = req.Header.Write(h) // in sorted order
	fmt.Fprintf(h, "\n%d\n", len(body))
	_, _ = h.Write(body)
	fmt.Fprintf(h, "\n%d\n", status)
	_ = header.Write(h)
	_, _ = h.Write(answer)
	var id [sha256.Size]byte
	h.Sum(id[:0])
	return id
}

// Verify checks one request (its body apart, as read) and the answer it got.
func (c *Contract) Verify(req *http.Request, body []byte, status int, header http.Header, answer []byte) error {
	head := req.Method == http.MethodHead
	if head { // Go's ServeMux answers a HEAD for every GET: the GET's answer without its body
		req = req.Clone(req.Context())
		req.Method = http.MethodGet
	}
	in, err := c.request(req, body)
	var notRouted *routers.RouteError
	switch {
	case errors.As(err, &notRouted):
		if status == http.StatusNotFound || status == http.StatusMethodNotAllowed {
			return nil
		}
		return fmt.Errorf("the contract has no %s %s (%v), yet the server answered it", req.Method, req.URL.Path, err)
	case err != nil && status < 300:
		return fmt.Errorf("the contract refuses the request, yet the server took it: %w", err)
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: status, Header: header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, ExcludeResponseBody: head},
	}
	out.SetBodyBytes(answer)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		return fmt.Errorf("the answer is not the contract's: %w", err)
	}
	return nil
}

// CheckRequest reports whether the contract takes req with body: nil, a
// *routers.RouteError for a route it lacks, or why it refuses it.
func (c *Contract) CheckRequest(req *http.Request, body []byte) error {
	_, err := c.request(req, body)
	return err
}

// Operation names the contract's operation for req (its operationId).
func (c *Contract) Operation(req *http.Request) (string, error) {
	route, _, err := c.router.FindRoute(req)
	if err != nil {
		return "", err
	}
	return route.Operation.OperationID, nil
}

// request routes req and checks it with body; the input is for checking
// its answer, and is nil only for a route the contract lacks.
func (c *Contract) request(req *http.Request, body []byte) (*openapi3filter.RequestValidationInput, error) {
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		return nil, err
	}
	req = req.Clone(req.Context())
	req.Body = io.NopCloser(bytes.NewReader(body))
	if rb := route.Operation.RequestBody; rb != nil && rb.Value.Content.Get("application/json") != nil {
		req.Header.Set("Content-Type", "application/json") // the server reads JSON whatever the header says
	}
	in := &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: bearer, SkipSettingDefaults: true},
	}
	return in, openapi3filter.ValidateRequest(context.Background(), in)
}

// Only is the contract cut down to paths, for a handler that serves just
// those (api.Probes): any other path is then one it must not answer.
func (c *Contract) Only(paths ...string) (*Contract, error) {
	doc := *c.Doc
	doc.Paths = openapi3.NewPaths()
	for _, p := range paths {
		item := c.Doc.Paths.Value(p)
		if item == nil {
			return nil, fmt.Errorf("the contract has no path %s", p)
		}
		doc.Paths.Set(p, item)
	}
	router, err := legacy.NewRouter(&doc)
	if err != nil {
		return nil, fmt.Errorf("route the contract: %w", err)
	}
	return &Contract{Doc: &doc, router: router}, nil
}

// bearer holds a request to the contract's producerToken scheme: an
// Authorization header with a bearer token. Whether it is the right token
// is the server's to say (403).
func bearer(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if s := in.SecurityScheme; s.Type != "http" || !strings.EqualFold(s.Scheme, "bearer") {
		return fmt.Errorf("security scheme %q: only http bearer is known here", in.SecuritySchemeName)
	}
	tok, ok := strings.CutPrefix(in.RequestValidationInput.Request.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return errors.New("no bearer token in the Authorization header")
	}
	return nil
}
