package schema

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Event kinds, the first byte of every message in the VOTES stream.
const (
	kindVote  byte = 'V'
	kindClose byte = 'C'
)

// MaxUserBytes bounds a user id (a JWT sub or an anonymous id).
const MaxUserBytes = 128

// ErrBadEvent is wrapped by every event decode error.
var ErrBadEvent = errors.New("bad event")

// Event is one message of the VOTES stream: a vote, or a shard's close
// marker. The poll and shard are in the subject, not the body.
type Event struct {
	Close     bool
	User      string
	Option    int
	Count     int
	ClientKey string
}

// AppendVoteEvent encodes a vote in a compact binary form:
// 'V' option:u8 count:u16 len(user):u8 user len(key):u8 key.
// Binary, because the tally decodes every event of every show.
func AppendVoteEvent(dst []byte, user string, v VoteFrame) []byte {
	dst = append(dst, kindVote, byte(v.Option))
	dst = binary.BigEndian.AppendUint16(dst, uint16(v.Count))
	dst = append(dst, byte(len(user)))
	dst = append(dst, user...)
	dst = append(dst, byte(len(v.ID)))
	return append(dst, v.ID...)
}

// CloseMarkerEvent is the body of a close marker.
func CloseMarkerEvent() []byte { return []byte{kindClose} }

// DecodeEvent parses a VOTES message body.
func DecodeEvent(b []byte) (Event, error) {
	if len(b) == 0 {
		return Event{}, fmt.Errorf("%w: empty", ErrBadEvent)
	}
	switch b[0] {
	case kindClose:
		if len(b) != 1 {
			return Event{}, fmt.Errorf("%w: close marker with a body", ErrBadEvent)
		}
		return Event{Close: true}, nil
	case kindVote:
	default:
		return Event{}, fmt.Errorf("%w: unknown kind %#x", ErrBadEvent, b[0])
	}
	if len(b) < 6 {
		return Event{}, fmt.Errorf("%w: vote too short", ErrBadEvent)
	}
	e := Event{Option: int(b[1]), Count: int(binary.BigEndian.Uint16(b[2:4]))}
	rest := b[4:]
	user, rest, ok := cutLen(rest)
	if !ok || len(user) == 0 || len(user) > MaxUserBytes {
		return Event{}, fmt.Errorf("%w: bad user", ErrBadEvent)
	}
	key, rest, ok := cutLen(rest)
	if !ok || len(rest) != 0 || len(key) > MaxClientKeyBytes {
		return Event{}, fmt.Errorf("%w: bad client key", ErrBadEvent)
	}
	if e.Option >= MaxOptions || e.Count > MaxVotesPerUser {
		return Event{}, fmt.Errorf("%w: option or count out of range", ErrBadEvent)
	}
	e.User, e.ClientKey = string(user), string(key)
	return e, nil
}

func cutLen(b []byte) (field, rest []byte, ok bool) {
	if len(b) < 1 || len(b) < 1+int(b[0]) {
		return nil, nil, false
	}
	n := int(b[0])
	return b[1 : 1+n], b[1+n:], true
}

// Snapshot is a shard's counts for one poll, published by tally after each
// fold. Seq is the stream sequence of the last event folded; broadcast keeps
// the snapshot with the highest Seq per shard so totals never go back.
type Snapshot struct {
	Poll   string  `json:"poll"`
	Shard  int     `json:"shard"`
	Seq    uint64  `json:"seq"`
	Counts []int64 `json:"counts"`
	Closed bool    `json:"closed,omitempty"`
	// Winners and Cutoff are a giveaway's (tally.PollShard.Winners).
	Winners int64  `json:"winners,omitempty"`
	Cutoff  uint64 `json:"cutoff,omitempty"`
}
