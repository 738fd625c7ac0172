package waitroom

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/votecast/votecast/schema"
)

// HTTPOptions configures Handler.
type HTTPOptions struct {
	Room *Room
	// Identify says who the viewer is, as the WebSocket does
	// (identity.Verifier.Identify).
	Identify func(w http.ResponseWriter, r *http.Request) (user, sealed string, err error)
	// Poll finds a poll in the catalog.
	Poll func(id string) (schema.Poll, bool)
	// Full reports whether this edge is at a capacity (ingest.Server.Full).
	Full func() bool
	// Vote casts a vote from the line (ingest.Server.VoteQueued); zero
	// value: this node takes no votes, and votes from the line answer 503.
	Vote func(ctx context.Context, user, poll string, place uint64, f schema.VoteFrame) (schema.Ack, error)
	// Logger; zero value: slog.Default().
	Logger *slog.Logger
}

// maxBody bounds a request body: a ticket and a vote frame.
const maxBody = MaxTicketBytes + schema.MaxFrameBytes + 64

// Handler serves the waiting room's endpoints:
//
//	POST /api/polls/{id}/queue       join the line (or be let in at once)
//	GET  /api/queue                  the line: serving position, length, rate (cacheable for 1s)
//	POST /api/polls/{id}/queue/vote  vote from the line with a ticket
func Handler(opts HTTPOptions) http.Handler {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	h := &handler{opts: opts,
		votes: limiters[uint64]{every: 5, burst: 20},
		joins: limiters[string]{every: joinsPerSecond, burst: joinBurst}}
	m := http.NewServeMux()
	m.HandleFunc("POST /api/polls/{id}/queue", h.join)
	m.HandleFunc("GET /api/queue", h.line)
	m.HandleFunc("POST /api/polls/{id}/queue/vote", h.vote)
	return m
}

type handler struct {
	opts  HTTPOptions
	votes limiters[uint64] // per place: votes from the line, as a socket's frames (5/s, burst 20)
	joins limiters[string] // per address: joins
}

// limiters holds a rate limiter per key. The map is dropped whole when it
// grows large, which costs a key at most a fresh burst.
type limiters[K comparable] struct {
	every rate.Limit
	burst int
	mu    sync.Mutex
	m     map[K]*rate.Limiter
}

func (l *limiters[K]) allow(k K) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.m[k]
	if !ok {
		if l.m == nil || len(l.m) >= 100_000 {
			l.m = map[K]*rate.Limiter{}
		}
		lim = rate.NewLimiter(l.every, l.burst)
		l.m[k] = lim
	}
	return lim.Allow()
}

// Joins per address: a join is a write to the log, and an anonymous
// viewer without its cookie is a new viewer each time, so one address
// could otherwise fill the line. Generous, for carrier NAT: a spike's
// phones behind one address join at once.
const (
	joinsPerSecond = 200
	joinBurst      = 1000
)

// allowJoin applies the per-address join limit.
func (h *handler) allowJoin(r *http.Request) bool {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	return h.joins.allow(ip)
}

// Place is the answer to joining: let in at once, or a ticket and where
// it stands. Ahead is the viewers before this one still waiting; the
// page counts down from it as the serving position moves (GET /api/queue).
type Place struct {
	Admit     bool      `json:"admit"`
	Ticket    string    `json:"ticket,omitempty"`
	Place     uint64    `json:"place,omitempty"`
	Serving   uint64    `json:"serving"`
	Ahead     uint64    `json:"ahead"`
	Rate      float64   `json:"rate"`
	ETAms     int64     `json:"eta_ms"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// Early is a viewer in line before the poll opened: its place is
	// drawn at the opening; it joins again after RetryAfterMS.
	Early        bool `json:"early,omitempty"`
	RetryAfterMS int  `json:"retry_after_ms,omitempty"`
	// Viewer is the sealed anonymous id, as the socket's hello frame
	// carries it, for a page whose cookie does not reach.
	Viewer string `json:"viewer,omitempty"`
}

func (h *handler) join(w http.ResponseWriter, r *http.Request) {
	if !h.allowJoin(r) {
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"error": "too many joins from your address", "retry_after_ms": 1000})
		return
	}
	id := r.PathValue("id")
	poll, ok := h.opts.Poll(id)
	if !schema.ValidPollID(id) || !ok {
		writeError(w, http.StatusNotFound, "poll not found")
		return
	}
	user, sealed, err := h.opts.Identify(w, r)
	if err != nil {
		writeError(w, http.StatusUnauthorized, err.Error())
		return
	}
	room := h.opts.Room
	if !room.Queueing() && !h.opts.Full() {
		writeJSON(w, http.StatusOK, Place{Admit: true, Serving: room.State().Serving, Viewer: sealed})
		return
	}
	if poll.JoinsEarly() {
		// Before the opening nobody has a place: they are drawn at it.
		if err := room.JoinEarly(r.Context(), user, poll.ID); err != nil {
			h.opts.Logger.Warn("waiting room: join early", "poll", poll.ID, "err", err)
			writeError(w, http.StatusServiceUnavailable, "waiting room unavailable, try again shortly")
			return
		}
		st := room.State()
		writeJSON(w, http.StatusOK, Place{Early: true, Serving: st.Serving, Rate: st.Rate, ETAms: -1, RetryAfterMS: 3000 + rand.IntN(3000), Viewer: sealed})
		return
	}
	t, tok, err := room.Join(r.Context(), user, poll.ID)
	if err != nil {
		h.opts.Logger.Warn("waiting room: join", "poll", poll.ID, "err", err)
		writeError(w, http.StatusServiceUnavailable, "waiting room unavailable, try again shortly")
		return
	}
	st := room.State()
	p := Place{Ticket: tok, Place: t.Pos, Serving: st.Serving, Rate: st.Rate, ExpiresAt: t.Expires.UTC(), Viewer: sealed}
	if t.Pos <= st.Serving {
		p.Admit = true
	} else {
		p.Ahead = t.Pos - st.Serving - 1
		p.ETAms = eta(t.Pos-st.Serving, st.Rate)
	}
	writeJSON(w, http.StatusOK, p)
}

// eta is how long n places take at rate, in milliseconds; -1 when the
// line does not move (rate 0).
func eta(n uint64, rate float64) int64 {
	if rate <= 0 {
		return -1
	}
	return int64(math.Ceil(float64(n) / rate * 1000))
}

// line is the same answer for every waiting viewer, so a cache in front
// (or the browser's) can take most of the polling.
func (h *handler) line(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=1")
	writeJSON(w, http.StatusOK, h.opts.Room.Snapshot())
}

type queuedVote struct {
	Ticket string          `json:"ticket"`
	Vote   json.RawMessage `json:"vote"`
}

func (h *handler) vote(w http.ResponseWriter, r *http.Request) {
	if h.opts.Vote == nil {
		writeError(w, http.StatusServiceUnavailable, "this node takes no votes")
		return
	}
	id := r.PathValue("id")
	if _, ok := h.opts.Poll(id); !schema.ValidPollID(id) || !ok {
		writeError(w, http.StatusNotFound, "poll not found")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "request larger than a ticket and a vote")
		return
	}
	var q queuedVote
	if err := json.Unmarshal(body, &q); err != nil {
		writeError(w, http.StatusBadRequest, `want {"ticket": "...", "vote": {"type": "vote", "id": "...", "option": N}}`)
		return
	}
	f, err := schema.DecodeClientFrame(q.Vote)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	user, _, err := h.opts.Identify(w, r)
	if err != nil {
		writeError(w, http.StatusUnauthorized, err.Error())
		return
	}
	t, err := h.opts.Room.Check(q.Ticket, user, id)
	if err != nil {
		writeError(w, http.StatusForbidden, err.Error())
		return
	}
	if !h.votes.allow(t.Pos) {
		writeAck(w, http.StatusTooManyRequests, schema.Ack{ID: f.ID, Status: schema.StatusRetry, Reason: "too many votes, slow down", RetryAfterMS: 1000})
		return
	}
	a, err := h.opts.Vote(r.Context(), user, id, t.Pos, f)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	status := a.Status
	if status == schema.StatusDuplicate && a.Reason == "already counted" {
		status = "counted_resend"
	}
	h.opts.Room.Voted(status)
	writeAck(w, http.StatusOK, a)
}

// writeAck answers a vote with its ack frame, as the socket sends it
// (schema.Ack has no JSON form of its own).
func writeAck(w http.ResponseWriter, code int, a schema.Ack) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(schema.AppendAck(nil, a))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if w.Header().Get("Cache-Control") == "" {
		w.Header().Set("Cache-Control", "no-store")
	}
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
