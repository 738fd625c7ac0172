package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Frame limits. A vote frame is tiny; anything larger is abuse or a bug.
const (
	MaxFrameBytes     = 512
	MaxClientKeyBytes = 64
)

// Ack statuses: what a viewer is told about one vote frame.
const (
	StatusAccepted  = "accepted"  // durably in the log, not a known repeat
	StatusDuplicate = "duplicate" // a repeat, or no votes left
	StatusRejected  = "rejected"  // poll not open, bad option
	StatusRetry     = "retry"     // shed load or log unavailable: send again later
)

// ErrBadFrame is wrapped by every decode error; the text after it is shown
// to the viewer.
var ErrBadFrame = errors.New("bad frame")

// VoteFrame is a viewer's vote: option index, and for budget polls how many
// of the user's votes to put on it.
type VoteFrame struct {
	ID     string // client key: a retry of the same vote carries the same key
	Option int
	Count  int // 1 unless the poll has a vote budget
}

type clientFrame struct {
	Type   string `json:"type"`
	ID     string `json:"id"`
	Option *int   `json:"option"`
	Count  *int   `json:"count"`
}

// DecodeClientFrame parses one frame from a viewer. Every error wraps
// ErrBadFrame and says what is wrong in words fit for the viewer.
func DecodeClientFrame(b []byte) (VoteFrame, error) {
	if len(b) > MaxFrameBytes {
		return VoteFrame{}, fmt.Errorf("%w: frame larger than %d bytes", ErrBadFrame, MaxFrameBytes)
	}
	var f clientFrame
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return VoteFrame{}, fmt.Errorf("%w: invalid JSON: %s", ErrBadFrame, jsonReason(err))
	}
	if dec.More() {
		return VoteFrame{}, fmt.Errorf("%w: trailing data after the frame", ErrBadFrame)
	}
	switch f.Type {
	case "vote":
	case "":
		return VoteFrame{}, fmt.Errorf("%w: missing field \"type\"", ErrBadFrame)
	default:
		return VoteFrame{}, fmt.Errorf("%w: unknown type %q", ErrBadFrame, truncate(f.Type, 32))
	}
	if err := checkClientKey(f.ID); err != nil {
		return VoteFrame{}, err
	}
	if f.Option == nil {
		return VoteFrame{}, fmt.Errorf("%w: missing field \"option\"", ErrBadFrame)
	}
	if *f.Option < 0 || *f.Option >= MaxOptions {
		return VoteFrame{}, fmt.Errorf("%w: option out of range", ErrBadFrame)
	}
	v := VoteFrame{ID: f.ID, Option: *f.Option, Count: 1}
	if f.Count != nil {
		if *f.Count < 0 || *f.Count > MaxVotesPerUser {
			return VoteFrame{}, fmt.Errorf("%w: count must be between 0 and %d", ErrBadFrame, MaxVotesPerUser)
		}
		v.Count = *f.Count
	}
	return v, nil
}

func checkClientKey(id string) error {
	if id == "" {
		return fmt.Errorf("%w: missing field \"id\"", ErrBadFrame)
	}
	if len(id) > MaxClientKeyBytes {
		return fmt.Errorf("%w: id longer than %d bytes", ErrBadFrame, MaxClientKeyBytes)
	}
	for i := 0; i < len(id); i++ {
		if !keyByte(id[i]) {
			return fmt.Errorf("%w: id may hold only letters, digits, '-' and '_'", ErrBadFrame)
		}
	}
	return nil
}

func keyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

func jsonReason(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return "syntax error at byte " + strconv.FormatInt(syn.Offset, 10)
	case errors.As(err, &typ):
		return "field \"" + typ.Field + "\" has the wrong type"
	}
	return truncate(err.Error(), 80)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Ack is the answer to one vote frame.
type Ack struct {
	ID           string
	Status       string
	Reason       string
	RetryAfterMS int
	// Seq is the vote's sequence in the log, on an accepted vote and on
	// a resend "already counted": the viewer's receipt, which they can
	// check against the poll's certificate once it closes.
	Seq uint64
}

// AppendAck encodes an ack frame. It is on the hot path (one per vote), so
// it appends by hand; the id was checked by DecodeClientFrame and reasons
// are votecast's own words, quoted with strconv for safety all the same.
func AppendAck(dst []byte, a Ack) []byte {
	dst = append(dst, `{"type":"ack","id":`...)
	dst = appendJSONString(dst, a.ID)
	dst = append(dst, `,"status":`...)
	dst = appendJSONString(dst, a.Status)
	if a.Reason != "" {
		dst = append(dst, `,"reason":`...)
		dst = appendJSONString(dst, a.Reason)
	}
	if a.RetryAfterMS > 0 {
		dst = append(dst, `,"retry_after_ms":`...)
		dst = strconv.AppendInt(dst, int64(a.RetryAfterMS), 10)
	}
	if a.Seq > 0 {
		dst = append(dst, `,"seq":`...)
		dst = strconv.AppendUint(dst, a.Seq, 10)
	}
	return append(dst, '}')
}

// AppendHello encodes the first frame of an anonymous viewer: its sealed
// id, to present as ?viewer= on reconnect where cookies do not reach.
func AppendHello(dst []byte, sealedViewer string) []byte {
	dst = append(dst, `{"type":"hello","viewer":`...)
	dst = appendJSONString(dst, sealedViewer)
	return append(dst, '}')
}

// AppendError encodes an error frame for input that is not a vote.
func AppendError(dst []byte, reason string) []byte {
	dst = append(dst, `{"type":"error","reason":`...)
	dst = appendJSONString(dst, reason)
	return append(dst, '}')
}

func appendJSONString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return append(dst, b...)
}

// Totals are a poll's live counts, as viewers see them.
type Totals struct {
	Poll   string  `json:"poll"`
	State  State   `json:"state"`
	Counts []int64 `json:"counts"`
	Total  int64   `json:"total"`
	// Giveaway is set for a giveaway, whatever the results' visibility:
	// the prizes left are live for everyone.
	Giveaway *GiveawayTotals `json:"giveaway,omitempty"`
}

// GiveawayTotals is where a giveaway stands. Cutoff is the sequence of
// the last winning entry once every prize is won: an entrant whose entry
// (their receipt) is eligible and at or before it won, any other lost.
// Answer, for a quiz, is shown once sold out or closed.
type GiveawayTotals struct {
	Prizes  int    `json:"prizes"`
	Winners int64  `json:"winners"`
	Left    int64  `json:"left"`
	SoldOut bool   `json:"sold_out,omitempty"`
	Cutoff  uint64 `json:"cutoff,omitempty"`
	Answer  *int   `json:"answer,omitempty"`
}

// NewGiveawayTotals sums a giveaway's winners (tally snapshots' Winners
// and Cutoff) into what viewers are shown.
func NewGiveawayTotals(p *Poll, winners int64, cutoff uint64) *GiveawayTotals {
	g := &GiveawayTotals{Prizes: p.Prizes, Winners: winners, Left: max(int64(p.Prizes)-winners, 0), SoldOut: cutoff > 0, Cutoff: cutoff}
	if g.SoldOut || p.State == Closed {
		g.Answer = p.Answer
	}
	return g
}

// resultsFrame is Totals on the wire; Hidden is set and the counts left out
// while a poll's results are hidden.
type resultsFrame struct {
	Type     string          `json:"type"`
	Poll     string          `json:"poll"`
	State    State           `json:"state"`
	Counts   []int64         `json:"counts,omitempty"`
	Total    *int64          `json:"total,omitempty"`
	Hidden   bool            `json:"hidden,omitempty"`
	Giveaway *GiveawayTotals `json:"giveaway,omitempty"`
}

// EncodeResults encodes the frame broadcast fans out. It runs once per poll
// per tick, not once per viewer.
func EncodeResults(t Totals, visible bool) []byte {
	f := resultsFrame{Type: "results", Poll: t.Poll, State: t.State, Giveaway: t.Giveaway}
	if visible {
		f.Counts = t.Counts
		if f.Counts == nil {
			f.Counts = []int64{}
		}
		f.Total = &t.Total
	} else {
		f.Hidden = true
	}
	b, _ := json.Marshal(f) // plain structs always marshal
	return b
}
