// Package api is the producer's HTTP API and the public poll endpoints:
// JSON in and out, errors as {"error": "..."}, admin calls behind a bearer
// token compared in constant time and never logged. It also answers the
// probes: /livez and /healthz (the process runs) and /readyz (the node can
// do its roles' work now); Probes serves them alone for a node without the
// API.
//
// A Handler is immutable after New and safe for concurrent use; it starts
// no goroutines.
package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/votecast/votecast/polls"
	"github.com/votecast/votecast/schema"
	"github.com/votecast/votecast/waitroom"
)

// MaxBodyBytes bounds a request body.
const MaxBodyBytes = 16 << 10

// ErrNoBroadcast is the answer for results on a node without the
// broadcast role (Options.Totals unset).
var ErrNoBroadcast = errors.New("this node has no broadcast role")

// Catalog is the in-memory poll mirror.
type Catalog interface {
	Get(id string) (schema.Poll, bool)
	List() []schema.Poll
	WaitFor(ctx context.Context, id string, cond func(schema.Poll) bool) (schema.Poll, error)
}

// Producer changes polls.
type Producer interface {
	Create(ctx context.Context, spec schema.PollSpec) (schema.Poll, error)
	Edit(ctx context.Context, id string, spec schema.PollSpec) (schema.Poll, error)
	Open(ctx context.Context, id string) (schema.Poll, error)
	Close(ctx context.Context, id string) (schema.Poll, error)
}

// Totals gives live counts and viewer numbers (the broadcast hub).
type Totals interface {
	Totals(id string) (schema.Totals, bool)
	Viewers() map[string]int
}

// Options configures New. Every field but Totals, TallyLag and Logger is
// required.
type Options struct {
	AdminToken string
	Catalog    Catalog
	Producer   Producer
	// Totals; zero value: this node has no broadcast role, so it cannot
	// sum the tally's snapshots: results answer 503 "this node has no
	// broadcast role" and stats carry no viewer numbers.
	Totals Totals
	// AckCounts returns ingest's answers since start, by status.
	AckCounts func() map[string]int64
	// TallyLag returns events not yet durably counted; zero value: this
	// node has no tally role, which alone knows, so stats carry no
	// tally_pending.
	TallyLag func(ctx context.Context) (uint64, error)
	// Ready reports whether this node can take and count votes.
	Ready func(ctx context.Context) error
	// Queue is the waiting room; zero value: none (stats carry no queue,
	// and setting the admission rate answers 404).
	Queue Queue
	// Certificates serves closed polls' certificates, receipts and
	// exports, and giveaways' winners; zero value: none (those endpoints
	// answer 404).
	Certificates Certifier
	// Identify tells who a viewer is (identity.Verifier.Identify), for a
	// giveaway's outcome; zero value: no outcomes (404).
	Identify func(w http.ResponseWriter, r *http.Request) (user, sealed string, err error)
	// Preflight describes the node for votecast preflight; zero value:
	// GET /api/preflight answers 404.
	Preflight func(ctx context.Context) any
	// Life ends when the node stops: poll changes outlive their request
	// but not the node. Zero value: context.Background().
	Life context.Context
	// Logger; zero value: slog.Default().
	Logger *slog.Logger
}

// Handler serves /api/, /healthz and /readyz.
type Handler struct {
	opts      Options
	life      context.Context
	tokenHash [32]byte
	log       *slog.Logger
	mux       *http.ServeMux
}

// New validates opts and builds the routes.
func New(opts Options) (*Handler, error) {
	if len(opts.AdminToken) < 16 {
		return nil, errors.New("new api: the admin token must be at least 16 characters")
	}
	if opts.Catalog == nil || opts.Producer == nil || opts.AckCounts == nil || opts.Ready == nil {
		return nil, errors.New("new api: Catalog, Producer, AckCounts and Ready are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Life == nil {
		opts.Life = context.Background()
	}
	h := &Handler{opts: opts, life: opts.Life, tokenHash: sha256.Sum256([]byte(opts.AdminToken)), log: opts.Logger.With("role", "api")}
	m := http.NewServeMux()
	m.HandleFunc("POST /api/polls", h.admin(h.create))
	m.HandleFunc("GET /api/polls", h.list)
	m.HandleFunc("GET /api/polls/{id}", h.get)
	m.HandleFunc("PUT /api/polls/{id}", h.admin(h.edit))
	m.HandleFunc("POST /api/polls/{id}/open", h.admin(h.change(opts.Producer.Open)))
	m.HandleFunc("POST /api/polls/{id}/close", h.admin(h.change(opts.Producer.Close)))
	m.HandleFunc("GET /api/polls/{id}/results", h.results)
	m.HandleFunc("GET /api/stats", h.admin(h.stats))
	m.HandleFunc("GET /api/openapi.yaml", contract)
	if opts.Preflight != nil {
		m.HandleFunc("GET /api/preflight", h.admin(h.preflight))
	}
	if opts.Queue != nil {
		m.HandleFunc("PUT /api/queue/rate", h.admin(h.setRate))
	}
	if opts.Certificates != nil {
		h.routeCertificates(m)
	}
	handleProbes(m, opts.Ready)
	m.HandleFunc("/api/", func(w http.ResponseWriter, _ *http.Request) { writeError(w, http.StatusNotFound, "no such endpoint") })
	h.mux = m
	return h, nil
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	h.mux.ServeHTTP(w, r)
}

// isAdmin compares hashes so neither the token's bytes nor its length
// leak through timing.
func (h *Handler) isAdmin(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	got := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(got[:], h.tokenHash[:]) == 1
}

func (h *Handler) admin(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="votecast"`)
			writeError(w, http.StatusUnauthorized, "missing producer token")
			return
		}
		if !h.isAdmin(r) {
			writeError(w, http.StatusForbidden, "invalid producer token")
			return
		}
		next(w, r)
	}
}

func (h *Handler) decodeSpec(w http.ResponseWriter, r *http.Request) (schema.PollSpec, bool) {
	var spec schema.PollSpec
	// The whole body is read before decoding: a decoder stops at the first
	// bad byte, so an oversized body that is not JSON, or valid JSON with
	// padding behind it, would never reach the limit and be told something
	// other than that it is too large.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", MaxBodyBytes))
		} else {
			writeError(w, http.StatusBadRequest, "read request body: "+err.Error())
		}
		return spec, false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		writeError(w, http.StatusBadRequest, "invalid JSON: "+err.Error())
		return spec, false
	}
	// More would pass a stray '}' or ']'; only the end of the body may follow.
	if _, err := dec.Token(); err != io.EOF {
		writeError(w, http.StatusBadRequest, "invalid JSON: trailing data")
		return spec, false
	}
	return spec, true
}

func (h *Handler) create(w http.ResponseWriter, r *http.Request) {
	spec, ok := h.decodeSpec(w, r)
	if !ok {
		return
	}
	p, err := h.opts.Producer.Create(r.Context(), spec)
	if err != nil {
		h.fail(w, "create poll", err)
		return
	}
	h.log.Info("poll created", "poll", p.ID)
	h.settle(r.Context(), p)
	writeJSON(w, http.StatusCreated, p)
}

func (h *Handler) edit(w http.ResponseWriter, r *http.Request) {
	spec, ok := h.decodeSpec(w, r)
	if !ok {
		return
	}
	p, err := h.opts.Producer.Edit(r.Context(), r.PathValue("id"), spec)
	if err != nil {
		h.fail(w, "edit poll", err)
		return
	}
	h.settle(r.Context(), p)
	writeJSON(w, http.StatusOK, p)
}

func (h *Handler) change(do func(context.Context, string) (schema.Poll, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		// A close waits for in-flight votes and for the waiting room's
		// grace; a client that hangs up must not leave the poll closing,
		// so the change lives as long as the node, not the request (a
		// node that stops mid-close leaves it for the next start to finish).
		ctx, cancel := context.WithTimeout(h.life, 5*time.Minute)
		defer cancel()
		p, err := do(ctx, id)
		if err != nil {
			h.fail(w, "change poll "+id, err)
			return
		}
		h.log.Info("poll changed", "poll", p.ID, "state", p.State)
		h.settle(r.Context(), p)
		writeJSON(w, http.StatusOK, p)
	}
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	state := r.URL.Query().Get("state")
	if state != string(schema.Open) && !h.isAdmin(r) {
		writeError(w, http.StatusUnauthorized, "listing every poll needs the producer token; use ?state=open")
		return
	}
	out := []schema.Poll{}
	admin := h.isAdmin(r)
	for _, p := range h.opts.Catalog.List() {
		if state == "" || string(p.State) == state {
			out = append(out, public(p, admin))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request) {
	p, ok := h.opts.Catalog.Get(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, "poll not found")
		return
	}
	writeJSON(w, http.StatusOK, public(p, h.isAdmin(r)))
}

// settle waits until this node's catalog shows the poll as written, so a
// producer who opens a poll and votes at once through the same node is not
// told it is not open yet.
func (h *Handler) settle(ctx context.Context, p schema.Poll) {
	want, _ := json.Marshal(p)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := h.opts.Catalog.WaitFor(ctx, p.ID, func(c schema.Poll) bool {
		got, _ := json.Marshal(c)
		return bytes.Equal(got, want)
	})
	if err != nil {
		h.log.Warn("poll change not yet visible on this node", "poll", p.ID, "err", err)
	}
}

// public leaves out what only ingest needs.
// public is a poll as the API shows it: a quiz's answer only to the
// producer until it closes (viewers see it in the totals once sold out).
func public(p schema.Poll, admin bool) schema.Poll {
	p.Markers = nil
	if p.State != schema.Closed && !admin {
		p.Answer = nil
	}
	return p
}

func (h *Handler) results(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	p, ok := h.opts.Catalog.Get(id)
	if !ok {
		writeError(w, http.StatusNotFound, "poll not found")
		return
	}
	if !p.ResultsVisible() && !h.isAdmin(r) {
		writeError(w, http.StatusForbidden, "results are hidden until the poll closes")
		return
	}
	if h.opts.Totals == nil {
		writeError(w, http.StatusServiceUnavailable, ErrNoBroadcast.Error())
		return
	}
	t, _ := h.opts.Totals.Totals(id)
	if r.URL.Query().Get("format") == "csv" {
		writeCSV(w, p, t)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (h *Handler) stats(w http.ResponseWriter, r *http.Request) {
	out := map[string]any{"acks": h.opts.AckCounts()}
	if h.opts.TallyLag != nil {
		lag, err := h.opts.TallyLag(r.Context())
		if err != nil {
			h.log.Warn("stats: tally lag", "err", err)
		}
		out["tally_pending"] = lag
	}
	if h.opts.Queue != nil {
		out["queue"] = h.opts.Queue.Snapshot()
	}
	if h.opts.Totals != nil {
		perPoll := map[string]map[string]int{}
		total := 0
		for id, n := range h.opts.Totals.Viewers() {
			perPoll[id] = map[string]int{"viewers": n}
			total += n
		}
		out["viewers"], out["polls"] = total, perPoll
	}
	writeJSON(w, http.StatusOK, out)
}

// Probes serves GET /livez, /healthz and /readyz alone, for a node that
// serves no API (tally only); ready says why the node cannot do its
// roles' work now, or nil. Any other path is not its business: mount it on
// those three.
func Probes(ready func(ctx context.Context) error) http.Handler {
	m := http.NewServeMux()
	handleProbes(m, ready)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		m.ServeHTTP(w, r)
	})
}

// handleProbes routes the probes. Alive is only "the process answers": a
// liveness probe that checked NATS or the store would have an orchestrator
// restart a node for an outage a restart cannot fix; readiness says that.
// /healthz is the older name of /livez.
func handleProbes(m *http.ServeMux, ready func(ctx context.Context) error) {
	alive := func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}
	m.HandleFunc("GET /livez", alive)
	m.HandleFunc("GET /healthz", alive)
	m.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		// A probe must answer quickly even when the store hangs.
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := ready(ctx); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}

// fail maps domain errors to statuses; anything else is logged once here.
func (h *Handler) fail(w http.ResponseWriter, doing string, err error) {
	switch {
	case errors.Is(err, schema.ErrInvalidPoll):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, polls.ErrNotFound):
		writeError(w, http.StatusNotFound, "poll not found")
	case errors.Is(err, polls.ErrConflict):
		writeError(w, http.StatusConflict, err.Error())
	default:
		h.log.Error(doing, "err", err)
		writeError(w, http.StatusServiceUnavailable, doing+" failed; try again")
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

// Queue is what the producer API needs of the waiting room.
type Queue interface {
	Snapshot() waitroom.Snapshot
	SetRate(ctx context.Context, rate float64) (waitroom.State, error)
}

// setRate changes the waiting room's admission rate, live, for every edge:
// PUT /api/queue/rate {"rate": viewers per second}.
func (h *Handler) setRate(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Rate *float64 `json:"rate"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1024))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || body.Rate == nil {
		writeError(w, http.StatusBadRequest, `want {"rate": viewers per second}`)
		return
	}
	st, err := h.opts.Queue.SetRate(r.Context(), *body.Rate)
	if err != nil {
		if *body.Rate < 0 || *body.Rate > 1e6 {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		h.fail(w, "set the admission rate", err)
		return
	}
	h.log.Info("admission rate changed", "rate", st.Rate)
	writeJSON(w, http.StatusOK, h.opts.Queue.Snapshot())
}
