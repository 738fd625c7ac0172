package certify

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/votecast/votecast/schema"
)

// MaxLineBytes bounds one line of an export; a real one is under 150.
const MaxLineBytes = 512

// ErrBadLine is wrapped by every error decoding a line of an export.
var ErrBadLine = errors.New("bad export line")

// Entry is one message of a poll's log as the export shows it: a vote
// with its user and client key hashed, or a shard's close marker. User
// and Key are hex; Key keeps the fold's resend rule checkable (a resend
// carries its first send's key) without showing the key itself.
type Entry struct {
	Seq    uint64 `json:"seq"`
	Shard  int    `json:"shard"`
	Close  bool   `json:"close,omitempty"`
	User   string `json:"user,omitempty"`
	Key    string `json:"key,omitempty"`
	Option int    `json:"option"`
	Count  int    `json:"count"`
	// Bad marks a message that did not decode: it counts for nothing,
	// and is in the export so the tree covers the whole log.
	Bad bool `json:"bad,omitempty"`
}

// Line is the entry's line in an export, and its leaf in the tree. It is
// built by hand in one fixed form, because a browser rebuilds it with
// JSON.stringify({seq, shard, ...}) from a receipt to check the leaf:
// keys in this order, integers, lower-case hex, nothing to escape.
func (e Entry) Line() []byte {
	b := make([]byte, 0, 128)
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, e.Seq, 10)
	b = append(b, `,"shard":`...)
	b = strconv.AppendInt(b, int64(e.Shard), 10)
	switch {
	case e.Bad:
		b = append(b, `,"bad":true`...)
	case e.Close:
		b = append(b, `,"close":true`...)
	default:
		b = append(b, `,"user":"`...)
		b = append(b, e.User...)
		b = append(b, `","key":"`...)
		b = append(b, e.Key...)
		b = append(b, `","option":`...)
		b = strconv.AppendInt(b, int64(e.Option), 10)
		b = append(b, `,"count":`...)
		b = strconv.AppendInt(b, int64(e.Count), 10)
	}
	return append(b, '}')
}

// ParseLine reads one line of an export. It accepts exactly what Line
// writes, so an export whose line was edited by hand into another form
// is refused rather than read differently.
func ParseLine(line []byte) (Entry, error) {
	if len(line) > MaxLineBytes {
		return Entry{}, fmt.Errorf("%w: longer than %d bytes", ErrBadLine, MaxLineBytes)
	}
	var e Entry
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return Entry{}, fmt.Errorf("%w: %v", ErrBadLine, err)
	}
	if !bytes.Equal(e.Line(), line) {
		return Entry{}, fmt.Errorf("%w: not in the export's form (%.80s)", ErrBadLine, line)
	}
	if e.Shard < 0 || e.Shard >= schema.MaxShards {
		return Entry{}, fmt.Errorf("%w: shard %d out of range", ErrBadLine, e.Shard)
	}
	if !e.Close && !e.Bad && (!isHex(e.User, userHexLen) || !isHex(e.Key, keyHexLen)) {
		return Entry{}, fmt.Errorf("%w: user and key must be %d and %d hex digits", ErrBadLine, userHexLen, keyHexLen)
	}
	return e, nil
}

const (
	userHexLen = 32 // 128 bits: no two viewers of a show collide
	keyHexLen  = 16 // 64 bits: only one user's keys need to differ
)

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// HashUser is how a user id appears in a poll's export: salted with the
// poll's salt, which the certificate publishes, so a viewer can find
// their own line while nobody can list who voted without guessing ids.
func HashUser(salt []byte, user string) string {
	h := sha256.New()
	h.Write([]byte("votecast-user\x00"))
	h.Write(salt)
	h.Write([]byte(user))
	return hex.EncodeToString(h.Sum(nil))[:userHexLen]
}

// hashKey is a client key in the export: one user's keys stay apart.
func hashKey(salt []byte, user, key string) string {
	h := sha256.New()
	h.Write([]byte("votecast-key\x00"))
	h.Write(salt)
	h.Write([]byte(user))
	h.Write([]byte{0})
	h.Write([]byte(key))
	return hex.EncodeToString(h.Sum(nil))[:keyHexLen]
}

// entryOf turns a message of the log into its export entry.
func entryOf(salt []byte, seq uint64, shard int, ev schema.Event, bad bool) Entry {
	e := Entry{Seq: seq, Shard: shard}
	switch {
	case bad:
		e.Bad = true
	case ev.Close:
		e.Close = true
	default:
		e.User, e.Key = HashUser(salt, ev.User), hashKey(salt, ev.User, ev.ClientKey)
		e.Option, e.Count = ev.Option, ev.Count
	}
	return e
}

// event is what the fold sees of an entry: the hashed user and key stand
// for the real ones (equal where they were equal).
func (e Entry) event() schema.Event {
	return schema.Event{Close: e.Close, User: e.User, ClientKey: e.Key, Option: e.Option, Count: e.Count}
}
