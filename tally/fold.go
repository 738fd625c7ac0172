package tally

import (
	"slices"

	"github.com/cespare/xxhash/v2"

	"github.com/votecast/votecast/schema"
)

// Choice is how many of a user's votes sit on one option.
type Choice struct {
	Option uint8
	Count  uint16
}

// Ballot is one user's state in one poll: a register that only moves
// forward by stream sequence, and the client keys it has applied.
type Ballot struct {
	LastSeq uint64
	Choices []Choice
	// Keys are KeyHash of every client key whose event moved this ballot
	// (see remembers), oldest first, for the life of the poll: a resend of
	// one of them, however late, is a Resend and changes nothing.
	Keys []uint64
}

// KeyHash is how a ballot remembers a client key: 8 bytes instead of up
// to 64. Two keys of one user colliding (about 2^-57 for 100 keys) would
// only make that user's own second vote look like a resend.
func KeyHash(clientKey string) uint64 { return xxhash.Sum64String(clientKey) }

// MaxFramesPerUser bounds a ballot of a poll that allows changes: it
// takes at most this many votes and changes; later ones are Exhausted.
// It is what bounds the keys such a ballot remembers (8 bytes each). A
// poll without changes needs no such cap: each key it remembers used at
// least one of the user's votes, so it holds at most VotesPerUser keys.
const MaxFramesPerUser = 64

func (b *Ballot) applied(key uint64) bool { return slices.Contains(b.Keys, key) }

func (b *Ballot) used() int {
	n := 0
	for _, c := range b.Choices {
		n += int(c.Count)
	}
	return n
}

func (b *Ballot) countOn(option int) int {
	for _, c := range b.Choices {
		if int(c.Option) == option {
			return int(c.Count)
		}
	}
	return 0
}

// set puts count votes on option, dropping the choice when count is 0.
func (b *Ballot) set(option, count int) {
	for i, c := range b.Choices {
		if int(c.Option) == option {
			if count == 0 {
				b.Choices = append(b.Choices[:i], b.Choices[i+1:]...)
			} else {
				b.Choices[i].Count = uint16(count)
			}
			return
		}
	}
	if count > 0 {
		b.Choices = append(b.Choices, Choice{Option: uint8(option), Count: uint16(count)})
	}
}

// Outcome is what folding one event did.
type Outcome uint8

const (
	Counted   Outcome = iota // votes added or moved
	Replay                   // sequence already applied: skipped
	Resend                   // a client key this ballot already applied: skipped
	Unchanged                // valid, but changes nothing (same choice again)
	Exhausted                // the user has no votes left, or may not change
	Invalid                  // option or count the poll does not allow
	Late                     // after the shard's close marker
	Marker                   // the close marker itself
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"counted", "replay", "resend", "unchanged", "exhausted", "invalid", "late", "marker"}

func (o Outcome) String() string { return outcomeNames[o] }

// PollShard is one shard of one poll: its ballots and the counts they add
// up to. Counts are always the sum of the ballots' choices.
type PollShard struct {
	Poll    string
	Shard   int
	LastSeq uint64 // last sequence folded
	Closed  bool   // the close marker has been folded
	Counts  []int64
	Ballots map[string]*Ballot
	dirty   map[string]struct{}
	// headerDirty is set when the header changed without a ballot
	// changing (a close marker, a refused vote): it must still be flushed.
	headerDirty bool
	// published is the newest snapshot of this shard in the TALLY stream.
	published schema.Snapshot
	// settleAt is, after a load, the sequence the replay must pass before
	// the counts are a true fold of the log (0: they are now).
	settleAt uint64
	// eligible are a giveaway's counted eligible entries' sequences, in
	// order, and prizes its prize count: the first prizes of them win.
	eligible []uint64
	prizes   int
}

// NewPollShard returns an empty shard for a poll with n options.
func NewPollShard(poll string, shard, n int) *PollShard {
	return &PollShard{
		Poll: poll, Shard: shard,
		Counts:  make([]int64, n),
		Ballots: make(map[string]*Ballot),
		dirty:   make(map[string]struct{}),
	}
}

// Apply folds the event at stream sequence seq under the poll's policy.
// The decision depends only on the event, its sequence and the shard's
// earlier events, never on a clock, so a recount from the log agrees.
func (s *PollShard) Apply(p *schema.Poll, seq uint64, ev schema.Event) Outcome {
	if ev.Close {
		if seq > s.LastSeq {
			s.LastSeq = seq
		}
		s.Closed, s.headerDirty = true, true
		return Marker
	}
	if s.Closed {
		return Late
	}
	b := s.Ballots[ev.User]
	if b != nil && seq <= b.LastSeq {
		return Replay
	}
	if seq > s.LastSeq {
		s.LastSeq = seq
	}
	if ev.Option >= len(p.Options) || ev.Option >= len(s.Counts) {
		return Invalid
	}
	if b == nil {
		b = &Ballot{}
	}
	key := KeyHash(ev.ClientKey)
	if b.applied(key) {
		return Resend
	}
	next, out := decide(p, b, ev)
	if p.Giveaway() && out != Counted && out != Invalid {
		// A ballot of a giveaway keeps its entry's sequence, which is
		// its place in line: a refused second entry (a resend past the
		// dedup window with another key) does not move it. Folding that
		// entry again after a crash refuses it again.
		s.headerDirty = true
		return out
	}
	switch {
	case out == Invalid:
		return out
	case p.AllowChange && len(b.Keys) >= MaxFramesPerUser:
		out = Exhausted // no changes left, and no key kept past the cap
	default:
		if out == Counted {
			s.moveCounts(b, next)
			b.Choices = next.Choices
			if p.Giveaway() && p.Eligible(ev.Option) {
				s.prizes = p.Prizes
				s.rank(seq)
			}
		}
		if remembers(p, out) {
			b.Keys = append(b.Keys, key)
		}
	}
	// A refused vote still moves the register forward so its replay is
	// recognised as one.
	s.record(ev.User, b, seq)
	return out
}

// remembers says whether the fold must keep an event's key so that its
// resend changes nothing. Without changes a refused vote stays refused
// (votes used only grow), so only counted keys are kept. With changes a
// vote refused or unchanged now could count later (after a take-back), so
// every key the ballot folds is kept.
func remembers(p *schema.Poll, out Outcome) bool {
	return out == Counted || p.AllowChange
}

func (s *PollShard) record(user string, b *Ballot, seq uint64) {
	b.LastSeq = seq
	s.Ballots[user] = b
	s.dirty[user] = struct{}{}
}

// decide applies the poll's policy to a ballot and returns the ballot the
// event asks for:
//   - one vote, no change: the first vote counts, later ones are Exhausted;
//   - one vote, change allowed: the vote moves to the new option;
//   - a budget of n, no change: votes add up until n is used;
//   - a budget of n, change allowed: the event sets the option's share
//     (0 takes it back), as long as the shares stay within n.
func decide(p *schema.Poll, b *Ballot, ev schema.Event) (Ballot, Outcome) {
	budget := p.VotesPerUser
	next := Ballot{Choices: append([]Choice(nil), b.Choices...)}
	switch {
	case !p.AllowChange:
		if ev.Count < 1 || (budget == 1 && ev.Count != 1) {
			return next, Invalid
		}
		if b.used()+ev.Count > budget {
			return next, Exhausted
		}
		next.set(ev.Option, b.countOn(ev.Option)+ev.Count)
	case budget == 1:
		if ev.Count > 1 {
			return next, Invalid
		}
		if b.countOn(ev.Option) == ev.Count {
			return next, Unchanged // same choice again, or taking back nothing
		}
		next.Choices = next.Choices[:0] // a new choice, or taking back this one
		next.set(ev.Option, ev.Count)
	default:
		if ev.Count == b.countOn(ev.Option) {
			return next, Unchanged
		}
		if b.used()-b.countOn(ev.Option)+ev.Count > budget {
			return next, Exhausted
		}
		next.set(ev.Option, ev.Count)
	}
	return next, Counted
}

func (s *PollShard) moveCounts(from *Ballot, to Ballot) {
	for _, c := range from.Choices {
		s.Counts[c.Option] -= int64(c.Count)
	}
	for _, c := range to.Choices {
		s.Counts[c.Option] += int64(c.Count)
	}
}

// Dirty reports whether anything changed since the last TakeChanges.
func (s *PollShard) Dirty() bool { return len(s.dirty) > 0 }

// TakeChanges returns the ballots changed since the last call, for a flush,
// and forgets them. If the flush fails the caller must keep the records and
// write them again: the ballots in memory have already moved on.
func (s *PollShard) TakeChanges() []BallotRecord {
	out := make([]BallotRecord, 0, len(s.dirty))
	for u := range s.dirty {
		b := s.Ballots[u]
		out = append(out, BallotRecord{User: u, LastSeq: b.LastSeq, Choices: append([]Choice(nil), b.Choices...), Keys: append([]uint64(nil), b.Keys...)})
	}
	clear(s.dirty)
	return out
}

// redirty marks ballots of a failed flush as changed again.
func (s *PollShard) redirty(rs []BallotRecord) {
	for _, r := range rs {
		s.dirty[r.User] = struct{}{}
	}
	s.headerDirty = true
}

// Header returns the shard's flush state.
func (s *PollShard) Header() ShardHeader {
	return ShardHeader{Poll: s.Poll, Shard: s.Shard, LastSeq: s.LastSeq, Closed: s.Closed, Counts: append([]int64(nil), s.Counts...)}
}

// rank places a giveaway's eligible entry among the others by sequence.
// Entries mostly come in order (an append); after a load, the replay
// folds entries a cut flush left out, which may come before stored ones.
func (s *PollShard) rank(seq uint64) {
	if n := len(s.eligible); n == 0 || s.eligible[n-1] < seq {
		s.eligible = append(s.eligible, seq)
		return
	}
	if i, found := slices.BinarySearch(s.eligible, seq); !found {
		s.eligible = slices.Insert(s.eligible, i, seq)
	}
}

// Winners is a giveaway's winner count so far and, once every prize is
// won, the sequence of the last winning entry (0 before): an entry wins
// iff it is eligible and at or before it. The first prizes eligible
// entries in the log's order win, whatever order they were folded in.
func (s *PollShard) Winners() (winners int64, cutoff uint64) {
	if s.prizes == 0 {
		return 0, 0
	}
	if len(s.eligible) < s.prizes {
		return int64(len(s.eligible)), 0
	}
	return int64(s.prizes), s.eligible[s.prizes-1]
}

// LoadPollShard rebuilds a shard from stored state. Counts are recomputed
// from the ballots rather than trusted: a flush cut between chunks leaves
// ballots ahead of the header, and the ballots are the truth. So are a
// giveaway's winners: its ballots hold their entries' sequences.
func LoadPollShard(st ShardState, p *schema.Poll) *PollShard {
	n := len(p.Options)
	s := NewPollShard(st.Header.Poll, st.Header.Shard, n)
	s.LastSeq, s.Closed = st.Header.LastSeq, st.Header.Closed
	for _, r := range st.Ballots {
		b := &Ballot{LastSeq: r.LastSeq, Choices: r.Choices, Keys: r.Keys}
		s.Ballots[r.User] = b
		for _, c := range r.Choices {
			if int(c.Option) < n {
				s.Counts[c.Option] += int64(c.Count)
			}
		}
		if r.LastSeq > s.LastSeq {
			s.LastSeq = r.LastSeq
		}
		if p.Giveaway() && len(r.Choices) > 0 && p.Eligible(int(r.Choices[0].Option)) {
			s.eligible = append(s.eligible, r.LastSeq)
		}
	}
	if p.Giveaway() {
		s.prizes = p.Prizes
		slices.Sort(s.eligible)
	}
	// Ballots ahead of their header (a flush cut between the two, which
	// ScyllaDB does not write atomically): the header must be written
	// again even if nothing new is folded, or the stored totals stay short.
	if s.LastSeq != st.Header.LastSeq || !slices.Equal(s.Counts, st.Header.Counts) {
		s.headerDirty = len(st.Ballots) > 0 || st.Header.LastSeq > 0
	}
	return s
}
