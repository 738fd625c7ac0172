package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/votecast/votecast/identity"
	"github.com/votecast/votecast/internal/parts"
	"github.com/votecast/votecast/schema"
	"github.com/votecast/votecast/waitroom"
)

// Feed gives a connection its poll's results frames (the broadcast hub).
type Feed interface {
	Subscribe(poll string, s interface{ Offer([]byte) }) (first []byte, unsubscribe func())
}

// PollView is the in-memory poll catalog.
type PollView interface {
	Get(id string) (schema.Poll, bool)
	WaitFor(ctx context.Context, id string, cond func(schema.Poll) bool) (schema.Poll, error)
}

// Options configures a Server. Polls and Identity are required, and JS
// unless RefuseVotes is set.
type Options struct {
	JS    jetstream.JetStream
	Polls PollView
	// Feed gives viewers their poll's totals; zero value: no results
	// frames, only acks (a node without the broadcast role has no totals
	// to send).
	Feed     Feed
	Identity *identity.Verifier
	// RefuseVotes, when set, is the reason every vote frame is answered
	// with, in an error frame, and nothing is published: a node without
	// the ingest role still serves viewers their totals, and a viewer who
	// votes there is told why the vote went nowhere instead of waiting. Not
	// an ack: the frame may be the resend of a vote that counted, so it is
	// never told rejected, and the client keeps it pending.
	// Zero value: votes are taken.
	RefuseVotes string
	// Cutoff returns a giveaway's last winning entry's sequence once it is
	// sold out (0 before): an entry accepted past it is told "sold out"
	// with its receipt. Zero value: entries are told nothing more.
	Cutoff func(poll string) uint64
	// Ballots answers, for a closed poll, whether a resent vote was
	// counted; zero value: every frame for a closed poll is answered
	// rejected, even the resend of a vote that counted.
	Ballots Ballots
	// AllowOrigins are partner origins ("https://partner.example") allowed
	// to open viewer sockets besides this server's own origin.
	AllowOrigins []string
	// MaxInFlight caps publishes awaiting a PubAck; zero value: 16384.
	// A spike under the cap never hears "busy": the log works through it
	// at its own pace, where turned-away votes coming back would cost a
	// read, a decode and an answer each and crowd the log's own loop off
	// the cores (10,000 votes at once on js-sync always: 3,700 accepted/s
	// without a retry at 16384, 2,635/s with 13,783 retry answers at 4096).
	// Keep it below what the log acknowledges within PublishTimeout, so a
	// full node answers "retry" at once rather than "slow" after the fact.
	MaxInFlight int
	// PublishTimeout bounds the wait for a PubAck; zero value: 10s.
	PublishTimeout time.Duration
	// StallTimeout is how long the log may acknowledge nothing while
	// votes wait before those votes are answered retry (a stream without
	// quorum or leader answers nothing at all); zero value: 2s. A log
	// that is slow but acknowledging never trips it.
	StallTimeout time.Duration
	// MaxConns caps viewer connections on this node; zero value: 200000.
	MaxConns int
	// MaxConnsPerIP caps connections from one address; zero value: 20000
	// (carrier NAT puts many phones behind one address).
	MaxConnsPerIP int
	// VoteRate and VoteBurst limit each connection's frames; zero values:
	// 5 per second, burst 20.
	VoteRate  rate.Limit
	VoteBurst int
	// MaxVoteRate is the votes per second this node takes before new
	// viewers are sent to the waiting room (with Room set); zero value:
	// 10000 (`scripts/bench`, 2 cores: 16,655 votes/s sustained with
	// js-sync 2m, 2,782 with always; see BENCHMARKS.md).
	MaxVoteRate float64
	// Room is the waiting room: with it, a viewer who arrives while this
	// node is full (or while others wait in line) is refused with
	// "queue": true and joins the line (waitroom), and a viewer whose
	// ticket is let in connects with it. Zero value: no waiting room; a
	// full node answers 503 with retry_after_ms.
	Room Room
	// Logger; zero value: slog.Default().
	Logger *slog.Logger
	// Registerer receives the metrics; zero value: none.
	Registerer prometheus.Registerer
}

// Server is the viewer WebSocket endpoint.
type Server struct {
	opts     Options
	log      *slog.Logger
	metrics  *metrics
	patterns []string
	inFlight chan struct{} // a token per publish awaiting its PubAck
	// published queues the votes in flight, in publish order, for
	// ackLoop; its capacity is MaxInFlight, so a vote holding a token
	// never waits to be queued.
	published chan published
	ackOnce   sync.Once
	ackStop   chan struct{}
	ackDone   chan struct{}
	stall     *stall

	conns   atomic.Int64
	mu      sync.Mutex
	perIP   map[string]int
	viewers map[*viewer]struct{}
	closing atomic.Bool
	pending sync.WaitGroup // publishes in flight
	serving sync.WaitGroup // viewer goroutines, and handlers about to start one
	// goingAway is set by GoingAway: a viewer let in after it is told
	// 1001 at once rather than missed.
	goingAway atomic.Bool
	batches   *sync.Pool // corked batches' buffers (wire.go)
	// writeParts label a writer round in CPU profiles: acks only, a
	// totals frame only, both.
	writeParts [3]parts.Labels

	streamMu sync.Mutex
	stream   jetstream.Stream // VOTES, for reading back a duplicate's original

	janitorOnce sync.Once
	closeOnce   sync.Once
	janitorStop chan struct{}
	janitorDone chan struct{}
	acks        [4]atomic.Int64
	voteRate    meter // votes published per second
}

var statuses = [4]string{schema.StatusAccepted, schema.StatusDuplicate, schema.StatusRejected, schema.StatusRetry}

func (s *Server) count(status string) {
	s.metrics.acks.WithLabelValues(status).Inc()
	for i, st := range statuses {
		if st == status {
			s.acks[i].Add(1)
		}
	}
}

// Waiting reports whether votes wait for their PubAck: the broadcast
// role spaces its totals while they do.
func (s *Server) Waiting() bool { return len(s.inFlight) > 0 }

// AckCounts returns the answers given since start, by status.
func (s *Server) AckCounts() map[string]int64 {
	out := make(map[string]int64, len(statuses))
	for i, st := range statuses {
		out[st] = s.acks[i].Load()
	}
	return out
}

// New validates opts and returns a Server.
func New(opts Options) (*Server, error) {
	if (opts.JS == nil && opts.RefuseVotes == "") || opts.Polls == nil || opts.Identity == nil {
		return nil, errors.New("new ingest server: Polls and Identity are required, and JS unless RefuseVotes is set")
	}
	if opts.MaxInFlight == 0 {
		opts.MaxInFlight = 16384
	}
	if opts.PublishTimeout == 0 {
		opts.PublishTimeout = 10 * time.Second
	}
	if opts.StallTimeout == 0 {
		opts.StallTimeout = 2 * time.Second
	}
	if opts.MaxConns == 0 {
		opts.MaxConns = 200_000
	}
	if opts.MaxConnsPerIP == 0 {
		opts.MaxConnsPerIP = 20_000
	}
	if opts.VoteRate == 0 {
		opts.VoteRate, opts.VoteBurst = 5, 20
	}
	if opts.MaxVoteRate == 0 {
		opts.MaxVoteRate = 10_000
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	patterns, err := OriginHosts(opts.AllowOrigins)
	if err != nil {
		return nil, fmt.Errorf("new ingest server: %w", err)
	}
	return &Server{
		opts: opts, log: opts.Logger.With("role", "ingest"), metrics: newMetrics(opts.Registerer, opts.MaxConns),
		patterns: patterns, inFlight: make(chan struct{}, opts.MaxInFlight), stall: newStall(opts.StallTimeout),
		published: make(chan published, opts.MaxInFlight), ackStop: make(chan struct{}), ackDone: make(chan struct{}),
		perIP: map[string]int{}, viewers: map[*viewer]struct{}{},
		janitorStop: make(chan struct{}), janitorDone: make(chan struct{}), batches: newBatchPool(),
		writeParts: [3]parts.Labels{parts.For(parts.AckWrite), parts.For(parts.TotalWrite), parts.For(parts.BothWrite)},
	}, nil
}

// OriginHosts turns partner origins into the host patterns the WebSocket
// library matches the Origin header against.
func OriginHosts(origins []string) ([]string, error) {
	var out []string
	for _, o := range origins {
		u, err := url.Parse(o)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("allowed origin %q: want scheme://host[:port]", o)
		}
		out = append(out, u.Host)
	}
	return out, nil
}

// ServeHTTP upgrades GET /ws?poll=ID to a viewer connection.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.closing.Load() {
		httpError(w, http.StatusServiceUnavailable, "server is shutting down", 1000)
		return
	}
	id := r.URL.Query().Get("poll")
	poll, ok := s.opts.Polls.Get(id)
	if !schema.ValidPollID(id) || !ok {
		httpError(w, http.StatusNotFound, "poll not found", 0)
		return
	}
	user, sealed, err := s.opts.Identity.Identify(w, r)
	if err != nil {
		httpError(w, http.StatusUnauthorized, err.Error(), 0)
		return
	}
	ticket := r.URL.Query().Get("ticket")
	room := s.opts.Room
	if room != nil && ticket == "" && (room.Queueing() || s.Full()) {
		s.metrics.refusedConns.Inc()
		queueError(w)
		return
	}
	if room != nil && ticket != "" {
		// Before a slot is spent: a ticket early or refused is told so,
		// not that the node is full.
		if err := room.Turn(ticket, user, poll.ID); err != nil {
			ticketError(w, err)
			return
		}
	}
	ip := clientIP(r)
	if reason := s.admit(ip); reason != "" {
		s.metrics.refusedConns.Inc()
		if room != nil && ticket == "" && reason == fullNode {
			queueError(w)
			return
		}
		retry := 2000
		if ticket != "" {
			// A ticket let in meets a node filled since: it stays
			// unused, and its holder comes back within a second or two.
			retry = 1000 + rand.IntN(1000)
		}
		httpError(w, http.StatusServiceUnavailable, reason, retry)
		return
	}
	releaseTicket := func() {}
	if room != nil && ticket != "" {
		var err error
		if releaseTicket, err = room.Admit(r.Context(), ticket, user, poll.ID); err != nil {
			s.release(ip)
			if !errors.Is(err, waitroom.ErrNotYet) && !errors.Is(err, waitroom.ErrTicket) {
				s.log.Warn("ingest: admit a ticket", "poll", poll.ID, "err", err)
			}
			ticketError(w, err)
			return
		}
	}
	s.janitorOnce.Do(func() { go s.janitor() })
	// Counted before the upgrade: the HTTP server's Shutdown stops
	// waiting for a connection once it is hijacked, so a handler between
	// Accept and the viewer's goroutine would otherwise escape Stop's wait
	// (the race detector caught one in a test's shutdown).
	s.serving.Add(1)
	uw := &upgradeWriter{ResponseWriter: w, pool: s.batches}
	c, err := websocket.Accept(uw, r, &websocket.AcceptOptions{OriginPatterns: s.patterns})
	if err != nil {
		s.serving.Done()
		s.release(ip)
		releaseTicket()
		return // Accept has answered (403 for a foreign Origin)
	}
	c.SetReadLimit(4 * schema.MaxFrameBytes) // larger frames close the socket; up to it they get an error frame
	v := newViewer(s, c, user, poll.ID)
	v.wire = uw.conn
	if sealed != "" {
		v.send(schema.AppendHello(nil, sealed))
	}
	s.track(v, true)
	if s.goingAway.Load() {
		v.goAway() // GoingAway's list was taken before this viewer was in it
	}
	// The viewer gets a goroutine of its own and this handler returns, so
	// the HTTP server's connection state, its buffers and the request are
	// freed: an idle viewer is that goroutine's small stack and its socket.
	go func() {
		defer s.serving.Done()
		defer s.release(ip)
		defer releaseTicket()
		defer s.track(v, false)
		parts.Do(parts.Intake, v.serve)
	}()
}

// Full reports whether this node is at a capacity: its connections, its
// publishes in flight (90% of the cap) or its votes per second.
func (s *Server) Full() bool {
	return s.conns.Load() >= int64(s.opts.MaxConns) ||
		len(s.inFlight) >= cap(s.inFlight)*9/10 ||
		float64(s.voteRate.perSecond(time.Now())) >= s.opts.MaxVoteRate
}

// Free is the viewer slots this node has now: none while it is full.
func (s *Server) Free() int {
	if s.Full() {
		return 0
	}
	return s.opts.MaxConns - int(s.conns.Load())
}

// ticketError answers an upgrade whose ticket cannot be used now.
func ticketError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, waitroom.ErrNotYet):
		httpError(w, http.StatusTooManyRequests, "not your turn yet", 1000)
	case errors.Is(err, waitroom.ErrTicket):
		httpError(w, http.StatusForbidden, err.Error(), 0)
	default:
		httpError(w, http.StatusServiceUnavailable, "waiting room unavailable", 1000)
	}
}

// queueError answers an upgrade past capacity where a waiting room is:
// the page joins the line (POST /api/polls/{id}/queue) instead of trying
// again.
func queueError(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write([]byte(`{"error":"this node is full: join the waiting room","queue":true}` + "\n"))
}

// fullNode is admit's answer at the connection cap; past the per-address
// cap the waiting room would not help (the node has room), so only this
// one sends a viewer there.
const fullNode = "this node is full, try again shortly"

func (s *Server) admit(ip string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns.Load() >= int64(s.opts.MaxConns) {
		return fullNode
	}
	if s.perIP[ip] >= s.opts.MaxConnsPerIP {
		return "too many connections from your address"
	}
	s.perIP[ip]++
	s.conns.Add(1)
	return ""
}

func (s *Server) release(ip string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perIP[ip]--; s.perIP[ip] <= 0 {
		delete(s.perIP, ip)
	}
	s.conns.Add(-1)
}

func (s *Server) track(v *viewer, add bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		s.viewers[v] = struct{}{}
		s.metrics.conns.Inc()
	} else {
		delete(s.viewers, v)
		s.metrics.conns.Dec()
	}
}

// janitor closes sockets whose write has been stuck for writeTimeout: a
// viewer whose phone went away mid-write must not hold its goroutines.
// It also watches the log for a stall.
func (s *Server) janitor() {
	defer close(s.janitorDone)
	t := time.NewTicker(writeTimeout / 4)
	defer t.Stop()
	st := time.NewTicker(max(s.opts.StallTimeout/8, 25*time.Millisecond))
	defer st.Stop()
	var stalledAt time.Time
	for {
		select {
		case <-s.janitorStop:
			return
		case now := <-st.C:
			switch s.stall.tick(now, len(s.inFlight), s.lastSeq) {
			case stallStarted:
				stalledAt = now
				s.metrics.stalls.Inc()
				s.log.Warn("vote log stalled: no PubAck while votes wait; answering them retry until it acknowledges again",
					"after", s.opts.StallTimeout, "waiting", len(s.inFlight))
			case stallContinued:
				s.metrics.stalls.Inc()
			case stallEnded:
				s.log.Info("vote log acknowledging again", "stalled_for", now.Sub(stalledAt).Round(time.Millisecond))
			}
		case now := <-t.C:
			s.mu.Lock()
			for v := range s.viewers {
				if start := v.out.writeStart.Load(); start != 0 && now.UnixNano()-start > int64(writeTimeout) {
					v.c.CloseNow()
				}
			}
			s.mu.Unlock()
		}
	}
}

// lastSeq reads the VOTES stream's last sequence for the stall watch; a
// log without a leader or quorum does not answer within a second.
func (s *Server) lastSeq() (uint64, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	stream, err := s.votesStream(ctx)
	if err != nil {
		return 0, false
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return 0, false
	}
	return info.State.LastSeq, true
}

// Close stops accepting votes and waits for publishes in flight to be
// answered (or ctx to end); then GoingAway closes the sockets, and Stop
// ends the janitor once the HTTP server has shut down.
func (s *Server) Close(ctx context.Context) error {
	s.closing.Store(true)
	done := make(chan struct{})
	go func() { s.pending.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("ingest: wait for in-flight publishes: %w", ctx.Err())
	}
}

// startAcker starts ackLoop on the first vote; Stop ends it.
func (s *Server) startAcker() { s.ackOnce.Do(func() { go parts.Do(parts.PubAck, s.ackLoop) }) }

// Stop ends the janitor and the answering of PubAcks; call it last, after
// the HTTP server has shut down and Close has waited for the votes in
// flight. Safe to call twice.
func (s *Server) Stop() {
	s.endViewers()
	started, acking := true, true
	s.janitorOnce.Do(func() { started = false })
	s.ackOnce.Do(func() { acking = false })
	s.closeOnce.Do(func() { close(s.janitorStop); close(s.ackStop) })
	if started {
		<-s.janitorDone
	}
	if acking {
		<-s.ackDone
	}
}

// viewerGrace is how long Stop lets the sockets GoingAway closed finish
// their close handshake (the WebSocket library waits 5s for the peer's).
const viewerGrace = 6 * time.Second

// endViewers waits for the viewer goroutines, cutting off the sockets
// still open after viewerGrace.
func (s *Server) endViewers() {
	done := make(chan struct{})
	go func() { s.serving.Wait(); close(done) }()
	select {
	case <-done:
		return
	case <-time.After(viewerGrace):
	}
	s.mu.Lock()
	for v := range s.viewers {
		v.c.CloseNow()
	}
	s.mu.Unlock()
	<-done
}

// GoingAway closes every viewer socket with status 1001, after their last
// acks are written.
func (s *Server) GoingAway() {
	s.goingAway.Store(true)
	s.mu.Lock()
	vs := make([]*viewer, 0, len(s.viewers))
	for v := range s.viewers {
		vs = append(vs, v)
	}
	s.mu.Unlock()
	for _, v := range vs {
		v.goAway()
	}
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func httpError(w http.ResponseWriter, code int, msg string, retryAfterMS int) {
	w.Header().Set("Content-Type", "application/json")
	body := map[string]any{"error": msg}
	if retryAfterMS > 0 {
		w.Header().Set("Retry-After", fmt.Sprint((retryAfterMS+999)/1000))
		body["retry_after_ms"] = retryAfterMS
	}
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}

// Settings are the options in force, defaults filled in.
func (s *Server) Settings() Options { return s.opts }

// Connections is how many viewers are connected now.
func (s *Server) Connections() int { return int(s.conns.Load()) }
