package certify

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/votecast/votecast/schema"
)

// sample is a budget poll's log (2 votes a user): a resend, votes over
// the budget, close markers and a vote after its shard's marker.
func sample(t *testing.T) (schema.Poll, []Entry, Certificate) {
	t.Helper()
	poll := schema.Poll{ID: schema.NewPollID(), Question: "Best?", Options: []string{"a", "b", "c"}, VotesPerUser: 2, State: schema.Closed}
	salt := []byte("0123456789abcdef")
	vote := func(seq uint64, shard int, user, key string, option, count int) Entry {
		return entryOf(salt, seq, shard, schema.Event{User: user, ClientKey: key, Option: option, Count: count}, false)
	}
	entries := []Entry{
		vote(3, 0, "u1", "k1", 0, 1),
		vote(4, 1, "u2", "k1", 1, 2),
		vote(7, 0, "u1", "k1", 0, 1), // a late resend: changes nothing
		vote(8, 0, "u1", "k2", 2, 1),
		vote(9, 1, "u2", "k2", 2, 1), // over the budget
		vote(10, 0, "u3", "k1", 1, 1),
		entryOf(salt, 11, 0, schema.Event{Close: true}, false),
		vote(12, 0, "u4", "k1", 0, 1), // after the marker
		entryOf(salt, 13, 1, schema.Event{Close: true}, false),
	}
	tr := NewTree(poll, entries)
	if want := []int64{1, 3, 1}; !slices.Equal(tr.Totals, want) || tr.Counted != 4 {
		t.Fatalf("the sample folds to %v with %d counted, want %v and 4", tr.Totals, tr.Counted, want)
	}
	_, key, _ := ed25519.GenerateKey(nil)
	first, last := tr.Range()
	c, err := Sign(key, Payload{Poll: poll.ID, Question: poll.Question, Options: poll.Options, VotesPerUser: 2,
		Totals: tr.Totals, Counted: tr.Counted, Entries: len(entries), FirstSeq: first, LastSeq: last,
		Root: tr.Root(), Salt: hex.EncodeToString(salt), SignedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return poll, entries, c
}

func export(t *testing.T, entries []Entry) *bytes.Buffer {
	t.Helper()
	var b bytes.Buffer
	if err := WriteExport(&b, entries); err != nil {
		t.Fatal(err)
	}
	return &b
}

func TestVerify(t *testing.T) {
	_, entries, c := sample(t)
	if _, err := Verify(export(t, entries), c); err != nil {
		t.Fatalf("the export as written: %v", err)
	}
	changed := func(i int, f func(*Entry)) []Entry {
		out := slices.Clone(entries)
		f(&out[i])
		return out
	}
	cases := []struct {
		name    string
		entries []Entry
		want    string
	}{
		{"a vote removed", slices.Delete(slices.Clone(entries), 1, 2), "lines"},
		{"a vote removed and the last line's place taken", slices.Delete(slices.Clone(entries), 5, 6), "lines"},
		{"a vote added", slices.Insert(slices.Clone(entries), 6, Entry{Seq: 10, Shard: 1, User: entries[1].User, Key: strings.Repeat("a", 16), Option: 0, Count: 1}), "out of log order"},
		{"a vote added in a gap", slices.Insert(slices.Clone(entries), 2, Entry{Seq: 5, Shard: 1, User: strings.Repeat("b", 32), Key: strings.Repeat("a", 16), Option: 0, Count: 1}), "lines"},
		{"two votes swapped", func() []Entry { out := slices.Clone(entries); out[3], out[5] = out[5], out[3]; return out }(), "out of log order"},
		{"two votes' contents swapped, sequences kept", func() []Entry {
			out := slices.Clone(entries)
			out[3].User, out[5].User = out[5].User, out[3].User
			out[3].Key, out[5].Key = out[5].Key, out[3].Key
			out[3].Option, out[5].Option = out[5].Option, out[3].Option
			return out
		}(), "Merkle root"},
		{"a vote's option altered", changed(5, func(e *Entry) { e.Option = 0 }), "Merkle root"},
		{"a vote's count altered", changed(1, func(e *Entry) { e.Count = 1 }), "Merkle root"},
		{"a vote's user altered", changed(3, func(e *Entry) { e.User = strings.Repeat("c", 32) }), "Merkle root"},
		{"a close marker dropped into a vote", changed(6, func(e *Entry) {
			e.Close, e.User, e.Key, e.Count = false, strings.Repeat("d", 32), strings.Repeat("d", 16), 1
		}), "Merkle root"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Verify(export(t, tc.entries), c)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want it refused for %q", err, tc.want)
			}
		})
	}
}

// A certificate whose payload changed fails its signature; one signed by
// another key names that key, which is the reader's to compare.
func TestCertificateSignature(t *testing.T) {
	_, entries, c := sample(t)
	for name, edit := range map[string]func(*Certificate){
		"totals raised": func(c *Certificate) {
			c.Payload = strings.Replace(c.Payload, `"totals":[1,3,1]`, `"totals":[1,3,2]`, 1)
		},
		"signature of none": func(c *Certificate) { c.Signature = "" },
		"another signature": func(c *Certificate) { c.Signature = c.Signature[:10] + "A" + c.Signature[11:] },
	} {
		t.Run(name, func(t *testing.T) {
			bad := c
			edit(&bad)
			if bad == c {
				t.Fatal("the edit changed nothing")
			}
			if _, err := Verify(export(t, entries), bad); !errors.Is(err, ErrInvalid) {
				t.Fatalf("got %v, want ErrInvalid", err)
			}
		})
	}
}

// A line in another form than the export's is refused, not read.
func TestParseLine(t *testing.T) {
	good := Entry{Seq: 5, Shard: 2, User: strings.Repeat("a", 32), Key: strings.Repeat("b", 16), Option: 1, Count: 1}.Line()
	if _, err := ParseLine(good); err != nil {
		t.Fatalf("%s: %v", good, err)
	}
	for _, line := range []string{
		`{"shard":2,"seq":5,"user":"` + strings.Repeat("a", 32) + `","key":"` + strings.Repeat("b", 16) + `","option":1,"count":1}`,
		`{"seq":5,"shard":2,"user":"` + strings.Repeat("A", 32) + `","key":"` + strings.Repeat("b", 16) + `","option":1,"count":1}`,
		`{"seq":5,"shard":2,"user":"ab","key":"` + strings.Repeat("b", 16) + `","option":1,"count":1}`,
		`{"seq":5,"shard":2,"close":true,"extra":1}`,
		`{"seq":5,"shard":999,"close":true}`,
		string(good) + " ",
		"",
	} {
		if _, err := ParseLine([]byte(line)); !errors.Is(err, ErrBadLine) {
			t.Errorf("%s: %v, want ErrBadLine", line, err)
		}
	}
}

func FuzzParseLine(f *testing.F) {
	f.Add(Entry{Seq: 5, Shard: 2, User: strings.Repeat("a", 32), Key: strings.Repeat("b", 16), Option: 1, Count: 1}.Line())
	f.Add([]byte(`{"seq":1,"shard":0,"close":true}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseLine(b)
		if err != nil {
			return
		}
		if !bytes.Equal(e.Line(), b) {
			t.Fatalf("parsed %q into an entry whose line is %q", b, e.Line())
		}
	})
}

// A giveaway's certificate names its winners; one that names other
// winners than the export gives (a server that lies) does not verify.
func TestVerifyGiveawayWinners(t *testing.T) {
	one := 1
	poll := schema.Poll{ID: schema.NewPollID(), Kind: schema.KindGiveaway, Prizes: 2, Answer: &one, Question: "q", Options: []string{"a", "b"}, VotesPerUser: 1, State: schema.Closed}
	salt := []byte("0123456789abcdef")
	var entries []Entry
	for i, opt := range []int{0, 1, 1, 0, 1} {
		entries = append(entries, entryOf(salt, uint64(i+1), 0, schema.Event{User: string(rune('a' + i)), ClientKey: "k", Option: opt, Count: 1}, false))
	}
	entries = append(entries, entryOf(salt, 6, 0, schema.Event{Close: true}, false))
	tr := NewTree(poll, entries)
	if tr.Winners != 2 || tr.Cutoff != 3 {
		t.Fatalf("the export gives %d winners up to %d, want 2 up to 3", tr.Winners, tr.Cutoff)
	}
	_, key, _ := ed25519.GenerateKey(nil)
	sign := func(winners int64, cutoff uint64) Certificate {
		first, last := tr.Range()
		c, err := Sign(key, Payload{Poll: poll.ID, Question: "q", Options: poll.Options, VotesPerUser: 1, Kind: poll.Kind, Prizes: 2, Answer: &one,
			Totals: tr.Totals, Counted: tr.Counted, Entries: len(entries), FirstSeq: first, LastSeq: last, Root: tr.Root(),
			Salt: hex.EncodeToString(salt), Winners: winners, Cutoff: cutoff})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if _, err := Verify(export(t, entries), sign(2, 3)); err != nil {
		t.Fatalf("the true winners: %v", err)
	}
	for _, lie := range []struct {
		winners int64
		cutoff  uint64
	}{{2, 5}, {1, 0}} {
		if _, err := Verify(export(t, entries), sign(lie.winners, lie.cutoff)); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "winners") {
			t.Errorf("a certificate naming %d winners up to %d: %v, want refused", lie.winners, lie.cutoff, err)
		}
	}
}
