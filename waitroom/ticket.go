package waitroom

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrTicket matches every refusal of a ticket (errors.Is); the message
// says why, safe to show the viewer.
var ErrTicket = errors.New("ticket refused")

// Refusal is why a ticket was refused.
type Refusal struct {
	// Reason is a short name for metrics: forged, expired, other_viewer,
	// other_poll, used, malformed.
	Reason string
	msg    string
}

func (e *Refusal) Error() string        { return "ticket refused: " + e.msg }
func (e *Refusal) Is(target error) bool { return target == ErrTicket }

func refuse(reason, msg string) error { return &Refusal{Reason: reason, msg: msg} }

// MaxTicketBytes bounds a ticket before it is decoded: the longest user id
// and poll id fit well inside it.
const MaxTicketBytes = 1024

// Ticket is a viewer's place in the waiting room. Pos is the QUEUE
// stream's sequence of the viewer's entry: global across edge nodes and
// strictly ordered, so no node-local counter decides who is first.
type Ticket struct {
	User    string
	Poll    string
	Pos     uint64
	Issued  time.Time
	Expires time.Time
}

// ticketVersion leads the payload, so the format can change without an
// old ticket being read as a new one.
const ticketVersion = 1

// Signer signs and checks tickets with a key every edge node shares.
// Safe for concurrent use.
type Signer struct{ key []byte }

// NewSigner returns a Signer; the key must be at least 32 bytes.
func NewSigner(key []byte) (*Signer, error) {
	if len(key) < 32 {
		return nil, fmt.Errorf("new ticket signer: the key is %d bytes, at least 32 are needed", len(key))
	}
	return &Signer{key: append([]byte(nil), key...)}, nil
}

// DeriveKey makes a ticket key from another secret every edge already
// shares (the producer token), for deployments that set none of their own.
func DeriveKey(secret string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("votecast waiting-room ticket key v1"))
	return m.Sum(nil)
}

// Sign encodes t as payload.signature, both base64url without padding.
func (s *Signer) Sign(t Ticket) string {
	p := encodePayload(t)
	enc := base64.RawURLEncoding
	return enc.EncodeToString(p) + "." + enc.EncodeToString(s.mac(p))
}

func (s *Signer) mac(p []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write(p)
	return m.Sum(nil)
}

// Verify checks tok's signature, then that it belongs to user and poll and
// has not expired at now. The reasons name what is wrong without telling
// anything to someone without the key: the claims are read only once the
// signature holds.
func (s *Signer) Verify(tok, user, poll string, now time.Time) (Ticket, error) {
	t, err := s.Open(tok)
	if err != nil {
		return Ticket{}, err
	}
	switch {
	case t.User != user:
		return Ticket{}, refuse("other_viewer", "this ticket belongs to another viewer")
	case t.Poll != poll:
		return Ticket{}, refuse("other_poll", "this ticket is for another poll")
	case !now.Before(t.Expires):
		return Ticket{}, refuse("expired", "this ticket expired; join the line again")
	}
	return t, nil
}

// Open checks tok's signature and decodes it, without the user, poll and
// expiry checks of Verify.
func (s *Signer) Open(tok string) (Ticket, error) {
	if tok == "" {
		return Ticket{}, refuse("malformed", "no ticket")
	}
	if len(tok) > MaxTicketBytes {
		return Ticket{}, refuse("malformed", "ticket too long")
	}
	b64, sig64, ok := strings.Cut(tok, ".")
	enc := base64.RawURLEncoding
	p, err1 := enc.DecodeString(b64)
	sig, err2 := enc.DecodeString(sig64)
	if !ok || err1 != nil || err2 != nil || !hmac.Equal(sig, s.mac(p)) {
		return Ticket{}, refuse("forged", "not a ticket this service signed")
	}
	t, err := decodePayload(p)
	if err != nil {
		// Signed by us but unreadable: a ticket of a newer format.
		return Ticket{}, refuse("malformed", err.Error())
	}
	return t, nil
}

// encodePayload: version u8, pos u64, issued and expires as Unix
// milliseconds i64, then poll and user, each a u16 length and the bytes.
func encodePayload(t Ticket) []byte {
	b := make([]byte, 0, 1+8+8+8+2+len(t.Poll)+2+len(t.User))
	b = append(b, ticketVersion)
	b = binary.BigEndian.AppendUint64(b, t.Pos)
	b = binary.BigEndian.AppendUint64(b, uint64(t.Issued.UnixMilli()))
	b = binary.BigEndian.AppendUint64(b, uint64(t.Expires.UnixMilli()))
	for _, s := range []string{t.Poll, t.User} {
		b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
		b = append(b, s...)
	}
	return b
}

func decodePayload(b []byte) (Ticket, error) {
	if len(b) < 1+24 || b[0] != ticketVersion {
		return Ticket{}, errors.New("unknown ticket format")
	}
	t := Ticket{
		Pos:     binary.BigEndian.Uint64(b[1:]),
		Issued:  time.UnixMilli(int64(binary.BigEndian.Uint64(b[9:]))),
		Expires: time.UnixMilli(int64(binary.BigEndian.Uint64(b[17:]))),
	}
	rest := b[25:]
	var fields [2]string
	for i := range fields {
		if len(rest) < 2 {
			return Ticket{}, errors.New("ticket payload cut short")
		}
		n := int(binary.BigEndian.Uint16(rest))
		if len(rest) < 2+n {
			return Ticket{}, errors.New("ticket payload cut short")
		}
		fields[i], rest = string(rest[2:2+n]), rest[2+n:]
		if !utf8.ValidString(fields[i]) {
			return Ticket{}, errors.New("ticket field is not UTF-8")
		}
	}
	if len(rest) != 0 {
		return Ticket{}, errors.New("ticket payload has trailing bytes")
	}
	t.Poll, t.User = fields[0], fields[1]
	return t, nil
}
