package waitroom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/votecast/votecast/schema"
)

// Options configures New.
type Options struct {
	// JS reaches the QUEUE stream and the waitroom buckets
	// (natsnode.Ensure declares them); required.
	JS jetstream.JetStream
	// Signer signs and checks tickets; required.
	Signer *Signer
	// Edge names this node in the free-slot report; required.
	Edge string
	// Free is this node's free viewer slots now (its connection cap less
	// its connections; 0 when it is full for another reason); required.
	Free func() int
	// Rate is the admission rate in viewers per second until an operator
	// sets another (SetRate): an edge starting with another rate applies
	// it, unless the producer has set one since. Zero value: DefaultRate;
	// negative: 0, the line does not move until the producer sets a rate.
	Rate float64
	// TicketTTL is how long a ticket lasts; zero value: 1 hour. Keep it
	// equal to natsnode.StreamOptions.TicketTTL, the QUEUE stream's dedup
	// window.
	TicketTTL time.Duration
	// Tick is how often the admitter runs; zero value: 200ms.
	Tick time.Duration
	// Logger; zero value: slog.Default().
	Logger *slog.Logger
	// Registerer receives the metrics; zero value: none.
	Registerer prometheus.Registerer
	// Now is the clock; zero value: time.Now.
	Now func() time.Time
}

// DefaultRate is the admission rate a deployment starts with, in viewers
// per second (all edges): about a tenth of the connections one edge took
// in `scripts/bench` (9,400 a second on 2 cores), so viewers let in do
// not crowd a node that is also answering a spike's votes.
const DefaultRate = 1000

// State is the waiting room's shared state: the serving position, the
// admission rate, and when the position last moved.
type State struct {
	// Serving is the last place let in: a ticket whose place is at or
	// below it may connect.
	Serving uint64 `json:"serving"`
	// Rate is the admission rate, viewers per second (all edges).
	Rate float64 `json:"rate"`
	// At is when Serving last moved, Unix milliseconds; the admitter
	// lets in Rate viewers per second since then.
	At int64 `json:"at"`
	// Admitted counts every place let in since the room was created.
	Admitted uint64 `json:"admitted"`
	// WinAt (Unix milliseconds) starts the report window (reportEvery)
	// in which WinN places were let in: together no more than the free
	// slots the edges last reported.
	WinAt int64  `json:"win_at"`
	WinN  uint64 `json:"win_n"`
	// ByProducer: the rate was set by the producer (PUT /api/queue/rate),
	// not by an edge's --admit-rate.
	ByProducer bool `json:"by_producer,omitempty"`
}

const stateKey = "state"

// Room is one edge's handle on the waiting room.
type Room struct {
	opts   Options
	log    *slog.Logger
	state  jetstream.KeyValue
	used   jetstream.KeyValue
	edges  jetstream.KeyValue
	stream jetstream.Stream

	mu      sync.Mutex
	cur     State
	rev     uint64
	last    uint64                // the last place given, as the admitter last read it
	free    map[string]edgeReport // free slots per edge, from the edges bucket
	metrics *metrics
	votes   atomic.Uint64 // counted votes from the line through this edge
}

// New opens the room's stream and buckets.
func New(ctx context.Context, opts Options) (*Room, error) {
	if opts.JS == nil || opts.Signer == nil || opts.Edge == "" || opts.Free == nil {
		return nil, errors.New("new waiting room: JS, Signer, Edge and Free are required")
	}
	if opts.Rate == 0 {
		opts.Rate = DefaultRate
	}
	opts.Rate = max(opts.Rate, 0)
	if opts.TicketTTL == 0 {
		opts.TicketTTL = time.Hour
	}
	if opts.Tick == 0 {
		opts.Tick = 200 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &Room{opts: opts, log: opts.Logger.With("part", "waitroom"), free: map[string]edgeReport{}}
	r.metrics = newMetrics(opts.Registerer, r.Snapshot)
	var err error
	if r.state, err = opts.JS.KeyValue(ctx, schema.QueueBucket); err != nil {
		return nil, fmt.Errorf("new waiting room: open bucket %s: %w", schema.QueueBucket, err)
	}
	if r.used, err = opts.JS.KeyValue(ctx, schema.UsedBucket); err != nil {
		return nil, fmt.Errorf("new waiting room: open bucket %s: %w", schema.UsedBucket, err)
	}
	if r.edges, err = opts.JS.KeyValue(ctx, schema.EdgesBucket); err != nil {
		return nil, fmt.Errorf("new waiting room: open bucket %s: %w", schema.EdgesBucket, err)
	}
	if r.stream, err = opts.JS.Stream(ctx, schema.QueueStream); err != nil {
		return nil, fmt.Errorf("new waiting room: open stream %s: %w", schema.QueueStream, err)
	}
	// The state entry is created once, by whichever edge comes first.
	b, _ := json.Marshal(State{Rate: opts.Rate, At: opts.Now().UnixMilli()})
	if _, err := r.state.Create(ctx, stateKey, b); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return nil, fmt.Errorf("new waiting room: create its state: %w", err)
	}
	st, _, err := r.readState(ctx)
	if err != nil {
		return nil, fmt.Errorf("new waiting room: %w", err)
	}
	if st.Rate != opts.Rate {
		// Not over a rate the producer set: setRate keeps that one.
		if _, err := r.setRate(ctx, opts.Rate, false); err != nil {
			return nil, fmt.Errorf("new waiting room: %w", err)
		}
	}
	return r, nil
}

// readState reads the state entry, keeps it as this edge's view, and
// returns it with its revision (for a compare-and-set).
func (r *Room) readState(ctx context.Context) (State, uint64, error) {
	e, err := r.state.Get(ctx, stateKey)
	if err != nil {
		return State{}, 0, fmt.Errorf("read the waiting room's state: %w", err)
	}
	st, err := decodeState(e.Value())
	if err != nil {
		return State{}, 0, err
	}
	r.keep(st, e.Revision())
	return st, e.Revision(), nil
}

func decodeState(b []byte) (State, error) {
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return State{}, fmt.Errorf("decode the waiting room's state: %w", err)
	}
	return st, nil
}

// keep makes st this edge's view unless it already holds a newer one
// (the watcher and this edge's own writes race).
func (r *Room) keep(st State, rev uint64) {
	r.mu.Lock()
	if rev > r.rev {
		r.cur, r.rev = st, rev
	}
	r.mu.Unlock()
}

// State is the room's state as this edge last saw it.
func (r *Room) State() State {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cur
}

// Snapshot is what the waiting page and the dashboard show.
type Snapshot struct {
	Serving  uint64  `json:"serving"`
	Last     uint64  `json:"last"`    // the last place given
	Waiting  uint64  `json:"waiting"` // places given and not yet let in
	Rate     float64 `json:"rate"`    // admission rate, viewers/s
	Admitted uint64  `json:"admitted"`
	// Votes is the votes cast from the line through this edge and
	// answered accepted (a resend's "already counted" is not a new vote).
	Votes uint64 `json:"votes"`
}

// Snapshot reads the room: the state entry and the stream's last place.
func (r *Room) Snapshot() Snapshot {
	st := r.State()
	r.mu.Lock()
	last := r.last
	r.mu.Unlock()
	s := Snapshot{Serving: st.Serving, Last: last, Rate: st.Rate, Admitted: st.Admitted, Votes: r.votes.Load()}
	if last > st.Serving {
		s.Waiting = last - st.Serving
	}
	return s
}

// Queueing reports whether viewers wait in line: a viewer who arrives
// without a ticket must join it, even where a slot is free, or it would
// pass those already waiting.
func (r *Room) Queueing() bool { return r.Snapshot().Waiting > 0 }

// Join gives user a place in the line for poll, or the place it already
// has: the entry's dedup key is the user and the poll, and the QUEUE
// stream remembers it as long as a ticket lasts.
func (r *Room) Join(ctx context.Context, user, poll string) (Ticket, string, error) {
	now := r.opts.Now()
	ack, err := r.opts.JS.PublishMsg(ctx, entryMsg(poll, user, now))
	if err != nil {
		return Ticket{}, "", fmt.Errorf("join the waiting room: %w", err)
	}
	issued := now
	if ack.Duplicate {
		// The same place as before; its ticket lasts from then.
		if m, err := r.stream.GetMsg(ctx, ack.Sequence); err == nil {
			issued = m.Time
		}
	}
	r.metrics.joined(ack.Duplicate)
	r.noteLast(ack.Sequence)
	t := Ticket{User: user, Poll: poll, Pos: ack.Sequence, Issued: issued, Expires: issued.Add(r.opts.TicketTTL)}
	return t, r.opts.Signer.Sign(t), nil
}

// entryMsg is user's entry in poll's line; its dedup key makes a second
// entry, by a join or by the opening's draw, return the first's place.
func entryMsg(poll, user string, now time.Time) *nats.Msg {
	msg := nats.NewMsg(schema.QueueEntrySubject(poll))
	msg.Header.Set(jetstream.MsgIDHeader, "q:"+poll+":"+user)
	msg.Data = strconv.AppendInt(nil, now.UnixMilli(), 10)
	return msg
}

func (r *Room) noteLast(seq uint64) {
	r.mu.Lock()
	r.last = max(r.last, seq)
	r.mu.Unlock()
}

// ErrNotYet is returned by Admit for a ticket whose place is not yet let in.
var ErrNotYet = errors.New("not your turn yet")

// usedMark is a ticket's entry in the used bucket: which edge holds the
// connection it was exchanged for.
type usedMark struct {
	User string `json:"user"`
	Edge string `json:"edge"`
}

// Turn checks a ticket and that its place is let in, without using it:
// an edge asks before it spends a slot on the connection.
func (r *Room) Turn(tok, user, poll string) error {
	_, err := r.turn(tok, user, poll)
	return err
}

func (r *Room) turn(tok, user, poll string) (Ticket, error) {
	t, err := r.Check(tok, user, poll)
	if err != nil {
		return Ticket{}, err
	}
	if serving := r.State().Serving; t.Pos > serving {
		return Ticket{}, fmt.Errorf("%w: place %d, serving %d", ErrNotYet, t.Pos, serving)
	}
	return t, nil
}

// Admit exchanges a ticket for a connection: it checks the ticket (user,
// poll, expiry, signature) and that its place is let in, and marks it
// used. A ticket holds one connection at a time, on any edge: while it is
// used, another exchange is refused. release ends the use when the
// connection closes, so the same viewer can reconnect after a dropped
// connection with the ticket it has; a mark left by an edge that stopped
// reporting (killed) is taken over.
func (r *Room) Admit(ctx context.Context, tok, user, poll string) (release func(), err error) {
	t, err := r.turn(tok, user, poll)
	if err != nil {
		return nil, err
	}
	key := strconv.FormatUint(t.Pos, 10)
	mark, _ := json.Marshal(usedMark{User: user, Edge: r.opts.Edge})
	rev, err := r.used.Create(ctx, key, mark)
	if errors.Is(err, jetstream.ErrKeyExists) {
		rev, err = r.takeOver(ctx, key, mark)
	}
	if err != nil {
		var ref *Refusal
		if errors.As(err, &ref) {
			r.metrics.refused(ref.Reason)
			return nil, err
		}
		return nil, fmt.Errorf("admit a ticket: mark it used: %w", err)
	}
	r.metrics.admittedAfter(r.opts.Now().Sub(t.Issued))
	return func() {
		// Only the mark this connection wrote: a later holder's stays.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = r.used.Delete(ctx, key, jetstream.LastRevision(rev))
	}, nil
}

// takeOver replaces the used mark of an edge that no longer reports (it
// was killed with the connection open); a mark of a live edge means the
// ticket's connection is still open there.
func (r *Room) takeOver(ctx context.Context, key string, mark []byte) (uint64, error) {
	e, err := r.used.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		// Released between the two calls: a deleted key is created again.
		return r.used.Create(ctx, key, mark)
	}
	if err != nil {
		return 0, err
	}
	var held usedMark
	_ = json.Unmarshal(e.Value(), &held)
	if r.edgeAlive(held.Edge) {
		return 0, refuse("used", "this ticket is in use on another connection")
	}
	rev, err := r.used.Update(ctx, key, mark, e.Revision())
	if isConflict(err) {
		// Another edge took it over first.
		return 0, refuse("used", "this ticket is in use on another connection")
	}
	return rev, err
}

// edgeAlive reports whether edge reported its free slots lately.
func (r *Room) edgeAlive(edge string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep, ok := r.free[edge]
	return ok && r.opts.Now().UnixMilli()-rep.At <= staleAfter.Milliseconds()
}

// Check verifies a ticket for a vote cast while waiting: signature, user,
// poll and expiry; a ticket need not be let in, nor unused, to vote.
func (r *Room) Check(tok, user, poll string) (Ticket, error) {
	t, err := r.opts.Signer.Verify(tok, user, poll, r.opts.Now())
	if err != nil {
		r.metrics.refused(reasonOf(err))
	}
	return t, err
}

// SetRate changes the admission rate for every edge: the producer's
// rate, which edges starting later keep.
func (r *Room) SetRate(ctx context.Context, rate float64) (State, error) {
	return r.setRate(ctx, rate, true)
}

func (r *Room) setRate(ctx context.Context, rate float64, byProducer bool) (State, error) {
	if rate < 0 || rate > 1e6 {
		return State{}, fmt.Errorf("admission rate %v: must be between 0 and 1000000 viewers a second", rate)
	}
	for range 10 {
		st, rev, err := r.readState(ctx)
		if err != nil {
			return State{}, fmt.Errorf("set the admission rate: %w", err)
		}
		if !byProducer && st.ByProducer {
			return st, nil // the producer set one meanwhile
		}
		st.Rate, st.ByProducer = rate, byProducer
		b, _ := json.Marshal(st)
		rev, err = r.state.Update(ctx, stateKey, b, rev)
		if err == nil {
			r.keep(st, rev)
			return st, nil
		}
		if !isConflict(err) {
			return State{}, fmt.Errorf("set the admission rate: %w", err)
		}
	}
	return State{}, errors.New("set the admission rate: the state kept changing under ten tries")
}

func isConflict(err error) bool {
	var api *jetstream.APIError
	return errors.As(err, &api) && api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}

// LastPlace returns the last place given in the line and whether a viewer
// of poll still waits in it (polls.Queue: a poll closing with viewers in
// line gives them time to vote).
func (r *Room) LastPlace(ctx context.Context, poll string) (last uint64, waiting bool, err error) {
	err = retryTransient(ctx, func() error {
		var err error
		last, waiting, err = r.lastPlace(ctx, poll)
		return err
	})
	return last, waiting, err
}

func (r *Room) lastPlace(ctx context.Context, poll string) (uint64, bool, error) {
	info, err := r.stream.Info(ctx)
	if err != nil {
		return 0, false, fmt.Errorf("read the line's length: %w", err)
	}
	r.noteLast(info.State.LastSeq)
	m, err := r.stream.GetLastMsgForSubject(ctx, schema.QueueEntrySubject(poll))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return info.State.LastSeq, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read the line's last place for poll %s: %w", poll, err)
	}
	st, _, err := r.readState(ctx)
	if err != nil {
		return 0, false, err
	}
	return info.State.LastSeq, m.Sequence > st.Serving, nil
}

// Voted records the answer to a vote from the line.
func (r *Room) Voted(status string) {
	r.metrics.votes.WithLabelValues(status).Inc()
	if status == schema.StatusAccepted {
		r.votes.Add(1)
	}
}
