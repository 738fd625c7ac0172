package schema

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// State is where a poll is in its life. It only moves forward:
// draft -> open -> closing -> closed.
type State string

const (
	Draft   State = "draft"
	Open    State = "open"
	Closing State = "closing"
	Closed  State = "closed"
)

// Results says when viewers may see the totals.
type Results string

const (
	ResultsLive   Results = "live"
	ResultsHidden Results = "hidden" // until the poll is closed
)

// Kind is what a poll decides: totals, or winners.
type Kind string

const (
	KindPoll Kind = "poll"
	// KindGiveaway: one entry per user; the first Prizes eligible entries
	// in the log's order win (eligible: on the Answer, when there is one).
	KindGiveaway Kind = "giveaway"
)

// MaxPrizes bounds a giveaway.
const MaxPrizes = 1_000_000

// Limits on a poll definition. They bound memory per poll and keep a frame
// small enough for a phone on a bad network.
const (
	MinOptions       = 2
	MaxOptions       = 32
	MaxQuestionBytes = 500
	MaxOptionBytes   = 200
	MaxVotesPerUser  = 100
	MaxShards        = 256
	DefaultShards    = 16
)

// ErrInvalidPoll is wrapped by every validation error of a poll definition.
var ErrInvalidPoll = errors.New("invalid poll")

// Poll is a poll's definition and state, as stored in the polls KV bucket.
type Poll struct {
	ID           string   `json:"id"`
	Kind         Kind     `json:"kind,omitempty"` // empty: KindPoll
	Question     string   `json:"question"`
	Options      []string `json:"options"`
	VotesPerUser int      `json:"votes_per_user"`
	// Prizes and Answer are a giveaway's (see PollSpec). Answer is kept
	// from viewers until the giveaway is sold out or closed.
	Prizes      int       `json:"prizes,omitempty"`
	Answer      *int      `json:"answer,omitempty"`
	AllowChange bool      `json:"allow_change"`
	Results     Results   `json:"results"`
	State       State     `json:"state"`
	Shards      int       `json:"shards"`
	CreatedAt   time.Time `json:"created_at"`
	OpenedAt    time.Time `json:"opened_at,omitzero"`
	ClosedAt    time.Time `json:"closed_at,omitzero"`
	// Markers holds, once the poll is closed, the stream sequence of the close
	// marker on each shard subject: a vote counts iff its sequence is below
	// its shard's marker. Ingest uses it to answer votes whose PubAck arrived
	// while the poll was closing.
	Markers []uint64 `json:"markers,omitempty"`
	// QueueSeq and QueueUntil are set when the poll starts closing while
	// viewers wait in line for it: a viewer whose ticket's place is at or
	// below QueueSeq (it joined before the close) may still vote from the
	// line until QueueUntil, and the markers go in only after it, so its
	// vote stands before them and counts.
	QueueSeq   uint64    `json:"queue_seq,omitempty"`
	QueueUntil time.Time `json:"queue_until,omitzero"`
	// QueueDrawing is set from the opening until the viewers who joined
	// the line before it have been given their places, in a random
	// order; a viewer joining meanwhile is one of them.
	QueueDrawing bool `json:"queue_drawing,omitempty"`
}

// JoinsEarly reports whether a viewer joining the line now is placed by
// the opening's draw rather than at once.
func (p *Poll) JoinsEarly() bool {
	return p.State == Draft || (p.State == Open && p.QueueDrawing)
}

// TakesQueuedVote reports whether a vote from the line, with a ticket
// for place pos, may still be published at now.
func (p *Poll) TakesQueuedVote(pos uint64, now time.Time) bool {
	switch p.State {
	case Open:
		return true
	case Closing:
		return pos != 0 && pos <= p.QueueSeq && now.Before(p.QueueUntil)
	}
	return false
}

// PollSpec is what a producer may set on a poll.
type PollSpec struct {
	// Kind: "poll" (the default) or "giveaway": one entry per user, and
	// the first Prizes entries in the log's order win; with Answer set
	// (an option's index: a quiz) only entries on it are eligible.
	Kind         Kind     `json:"kind,omitempty"`
	Prizes       int      `json:"prizes,omitempty"`
	Answer       *int     `json:"answer,omitempty"`
	Question     string   `json:"question"`
	Options      []string `json:"options"`
	VotesPerUser int      `json:"votes_per_user,omitempty"`
	AllowChange  bool     `json:"allow_change,omitempty"`
	Results      Results  `json:"results,omitempty"`
}

// Normalize trims the text fields and fills the documented defaults
// (one vote per user, live results), then validates.
func (s *PollSpec) Normalize() error {
	s.Question = strings.TrimSpace(s.Question)
	for i := range s.Options {
		s.Options[i] = strings.TrimSpace(s.Options[i])
	}
	if s.VotesPerUser == 0 {
		s.VotesPerUser = 1
	}
	if s.Results == "" {
		s.Results = ResultsLive
	}
	if s.Kind == "" {
		s.Kind = KindPoll
	}
	if err := s.validateKind(); err != nil {
		return err
	}
	return s.validate()
}

func (s *PollSpec) validate() error {
	switch {
	case s.Question == "":
		return fmt.Errorf("%w: question is empty", ErrInvalidPoll)
	case len(s.Question) > MaxQuestionBytes:
		return fmt.Errorf("%w: question is longer than %d bytes", ErrInvalidPoll, MaxQuestionBytes)
	case !utf8.ValidString(s.Question):
		return fmt.Errorf("%w: question is not valid UTF-8", ErrInvalidPoll)
	case len(s.Options) < MinOptions:
		return fmt.Errorf("%w: a poll needs at least %d options", ErrInvalidPoll, MinOptions)
	case len(s.Options) > MaxOptions:
		return fmt.Errorf("%w: a poll has at most %d options", ErrInvalidPoll, MaxOptions)
	case s.VotesPerUser < 1 || s.VotesPerUser > MaxVotesPerUser:
		return fmt.Errorf("%w: votes_per_user must be between 1 and %d", ErrInvalidPoll, MaxVotesPerUser)
	case s.Results != ResultsLive && s.Results != ResultsHidden:
		return fmt.Errorf("%w: results must be %q or %q", ErrInvalidPoll, ResultsLive, ResultsHidden)
	}
	for i, o := range s.Options {
		switch {
		case o == "":
			return fmt.Errorf("%w: option %d is empty", ErrInvalidPoll, i)
		case len(o) > MaxOptionBytes:
			return fmt.Errorf("%w: option %d is longer than %d bytes", ErrInvalidPoll, i, MaxOptionBytes)
		case !utf8.ValidString(o):
			return fmt.Errorf("%w: option %d is not valid UTF-8", ErrInvalidPoll, i)
		}
	}
	return nil
}

func (s *PollSpec) validateKind() error {
	switch s.Kind {
	case KindPoll:
		if s.Prizes != 0 || s.Answer != nil {
			return fmt.Errorf("%w: prizes and answer are for a giveaway (kind \"giveaway\")", ErrInvalidPoll)
		}
		return nil
	case KindGiveaway:
	default:
		return fmt.Errorf("%w: kind must be %q or %q", ErrInvalidPoll, KindPoll, KindGiveaway)
	}
	switch {
	case s.Prizes < 1 || s.Prizes > MaxPrizes:
		return fmt.Errorf("%w: a giveaway needs between 1 and %d prizes", ErrInvalidPoll, MaxPrizes)
	case s.VotesPerUser != 1 || s.AllowChange:
		return fmt.Errorf("%w: a giveaway takes one entry per user, without changes", ErrInvalidPoll)
	case s.Answer != nil && (*s.Answer < 0 || *s.Answer >= len(s.Options)):
		return fmt.Errorf("%w: answer must be the index of one of the options", ErrInvalidPoll)
	}
	return nil
}

// Giveaway reports whether the poll decides winners.
func (p *Poll) Giveaway() bool { return p.Kind == KindGiveaway }

// Eligible reports whether a giveaway's entry on option can win.
func (p *Poll) Eligible(option int) bool { return p.Answer == nil || *p.Answer == option }

// NewPoll builds a draft poll from a normalized spec. A giveaway has one
// shard: its entries' order is one subject's order in the log, which one
// tally folds in sequence (see Giveaway in the design).
func NewPoll(id string, s PollSpec, shards int, now time.Time) Poll {
	if s.Kind == KindGiveaway {
		shards = 1
	}
	var answer *int
	if s.Answer != nil {
		a := *s.Answer
		answer = &a
	}
	return Poll{
		ID:           id,
		Kind:         s.Kind,
		Prizes:       s.Prizes,
		Answer:       answer,
		Question:     s.Question,
		Options:      append([]string(nil), s.Options...),
		VotesPerUser: s.VotesPerUser,
		AllowChange:  s.AllowChange,
		Results:      s.Results,
		State:        Draft,
		Shards:       shards,
		CreatedAt:    now.UTC(),
	}
}

// ResultsVisible reports whether viewers may see the counts now.
func (p *Poll) ResultsVisible() bool {
	return p.Results == ResultsLive || p.State == Closed
}

// CountsBefore reports whether a vote stored at seq on shard stands before
// that shard's close marker. Only meaningful once the poll is closed.
func (p *Poll) CountsBefore(shard int, seq uint64) bool {
	if shard < 0 || shard >= len(p.Markers) {
		return false
	}
	return seq < p.Markers[shard]
}

// pollIDAlphabet is lower-case and digits only, so an id is always a valid
// single NATS subject token and a valid KV key.
const pollIDAlphabet = "abcdefghijkmnpqrstuvwxyz23456789"

// PollIDLen is the length of ids made by NewPollID.
const PollIDLen = 10

// NewPollID returns a random poll id (50 bits of entropy).
func NewPollID() string {
	var b [PollIDLen]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	for i := range b {
		b[i] = pollIDAlphabet[int(b[i])%len(pollIDAlphabet)]
	}
	return string(b[:])
}

// ValidPollID reports whether id could have come from NewPollID. Checked
// before an id from a URL reaches a subject or a key.
func ValidPollID(id string) bool {
	if len(id) != PollIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if strings.IndexByte(pollIDAlphabet, id[i]) < 0 {
			return false
		}
	}
	return true
}
