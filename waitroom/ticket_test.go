package waitroom

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func TestTicketRefusals(t *testing.T) {
	s, err := NewSigner(testKey)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewSigner([]byte("another key, 32 bytes long at the least"))
	now := time.UnixMilli(1_700_000_000_000)
	good := Ticket{User: "alice", Poll: "p1", Pos: 42, Issued: now, Expires: now.Add(time.Hour)}
	tok := s.Sign(good)
	payload, sig, _ := strings.Cut(tok, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(payload)
	raw[8]++ // place 42 becomes 43, signature unchanged
	moved := base64.RawURLEncoding.EncodeToString(raw) + "." + sig
	for _, tc := range []struct {
		name, tok, user, poll string
		at                    time.Time
		reason, msg           string
	}{
		{"good", tok, "alice", "p1", now, "", ""},
		{"another viewer", tok, "bob", "p1", now, "other_viewer", "ticket refused: this ticket belongs to another viewer"},
		{"another poll", tok, "alice", "p2", now, "other_poll", "ticket refused: this ticket is for another poll"},
		{"expired", tok, "alice", "p1", now.Add(time.Hour), "expired", "ticket refused: this ticket expired; join the line again"},
		{"other key", other.Sign(good), "alice", "p1", now, "forged", "ticket refused: not a ticket this service signed"},
		{"place changed", moved, "alice", "p1", now, "forged", "ticket refused: not a ticket this service signed"},
		{"no signature", payload, "alice", "p1", now, "forged", "ticket refused: not a ticket this service signed"},
		{"empty", "", "alice", "p1", now, "malformed", "ticket refused: no ticket"},
		{"too long", strings.Repeat("a", MaxTicketBytes+1), "alice", "p1", now, "malformed", "ticket refused: ticket too long"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Verify(tc.tok, tc.user, tc.poll, tc.at)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("refused a good ticket: %v", err)
				}
				if got.Pos != 42 || got.User != "alice" || got.Poll != "p1" || !got.Expires.Equal(good.Expires) {
					t.Fatalf("got %+v, want %+v", got, good)
				}
				return
			}
			var r *Refusal
			if !errors.As(err, &r) || !errors.Is(err, ErrTicket) {
				t.Fatalf("err %v, want a refusal", err)
			}
			if r.Reason != tc.reason || err.Error() != tc.msg {
				t.Fatalf("refused %q (%s), want %q (%s)", err, r.Reason, tc.msg, tc.reason)
			}
		})
	}
}

func TestSignerNeedsALongKey(t *testing.T) {
	if _, err := NewSigner([]byte("short")); err == nil || err.Error() != "new ticket signer: the key is 5 bytes, at least 32 are needed" {
		t.Fatalf("err %v", err)
	}
}

func FuzzOpenTicket(f *testing.F) {
	s, _ := NewSigner(testKey)
	now := time.UnixMilli(1_700_000_000_000)
	f.Add(s.Sign(Ticket{User: "u", Poll: "p", Pos: 1, Issued: now, Expires: now}))
	f.Add("")
	f.Add("AQ.AQ")
	f.Fuzz(func(t *testing.T, tok string) {
		tk, err := s.Open(tok)
		if err != nil {
			return
		}
		// Anything that opens was signed with the key: signing it again
		// must give the same ticket back.
		back, err := s.Open(s.Sign(tk))
		if err != nil || back != tk {
			t.Fatalf("round trip of %+v: %+v, %v", tk, back, err)
		}
	})
}

func FuzzDecodePayload(f *testing.F) {
	now := time.UnixMilli(1_700_000_000_000)
	f.Add(encodePayload(Ticket{User: "u", Poll: "p", Pos: 9, Issued: now, Expires: now}))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		tk, err := decodePayload(b)
		if err != nil {
			return
		}
		if got := encodePayload(tk); string(got) != string(b) {
			t.Fatalf("decode then encode changed %x to %x", b, got)
		}
	})
}
