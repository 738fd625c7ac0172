package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"reflect"
	"testing"

	"github.com/votecast/votecast/tally"
)

// encodeBallotV1 is the ballot encoder before keys were kept, as it was:
// stores on disk hold records it wrote.
func encodeBallotV1(r tally.BallotRecord) []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 8+3*len(r.Choices)), r.LastSeq)
	for _, c := range r.Choices {
		b = append(b, c.Option)
		b = binary.BigEndian.AppendUint16(b, c.Count)
	}
	return b
}

// A store written by the old code, v1 ballots beside its header, loads
// through both read paths with the ballots as they were and no keys; a
// flush over one of them then writes v2.
func TestLoadsV1Ballots(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	const poll, shard = "pollv1", 3
	old := []tally.BallotRecord{
		{User: "alice", LastSeq: 7, Choices: []tally.Choice{{Option: 1, Count: 1}}},
		{User: "bob", LastSeq: 1<<56 - 1, Choices: []tally.Choice{{Option: 0, Count: 2}, {Option: 31, Count: math.MaxUint16}}},
		{User: "carol", LastSeq: 11}, // a refused vote: no choices
	}
	b := s.db.NewBatch()
	prefix := append(shardKey(ballotPrefix, poll, shard), '/')
	for _, r := range old {
		if err := b.Set(append(prefix[:len(prefix):len(prefix)], r.User...), encodeBallotV1(r), nil); err != nil {
			t.Fatal(err)
		}
	}
	h := tally.ShardHeader{Poll: poll, Shard: shard, LastSeq: 1<<56 - 1, Counts: []int64{2, 1}}
	if err := b.Set(shardKey(headerPrefix, poll, shard), encodeHeader(h), nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(s.sync); err != nil {
		t.Fatal(err)
	}
	b.Close()

	ctx := context.Background()
	st, err := s.LoadShard(ctx, poll, shard)
	if err != nil {
		t.Fatalf("LoadShard: %v", err)
	}
	if !reflect.DeepEqual(st.Ballots, old) {
		t.Fatalf("LoadShard ballots = %+v, want %+v", st.Ballots, old)
	}
	if !reflect.DeepEqual(st.Header, h) {
		t.Fatalf("LoadShard header = %+v, want %+v", st.Header, h)
	}
	for _, want := range old {
		got, ok, err := s.LoadBallot(ctx, poll, shard, want.User)
		if err != nil || !ok || !reflect.DeepEqual(got, want) {
			t.Fatalf("LoadBallot(%s) = %+v, %v, %v; want %+v", want.User, got, ok, err, want)
		}
	}

	moved := tally.BallotRecord{User: "alice", LastSeq: 12, Choices: []tally.Choice{{Option: 0, Count: 1}}, Keys: []uint64{1, math.MaxUint64}}
	if err := s.Flush(ctx, []tally.ShardUpdate{{Header: h, Ballots: []tally.BallotRecord{moved}}}); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	raw, closer, err := s.db.Get(append(prefix, "alice"...))
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	defer closer.Close()
	if raw[0] != ballotV2 {
		t.Fatalf("rewritten ballot starts with %#x, want version %#x", raw[0], ballotV2)
	}
	got, ok, err := s.LoadBallot(ctx, poll, shard, "alice")
	if err != nil || !ok || !reflect.DeepEqual(got, moved) {
		t.Fatalf("LoadBallot after flush = %+v, %v, %v; want %+v", got, ok, err, moved)
	}
}

// The v2 bytes are what is on disk: a change to them must be a new version.
func TestBallotV2Layout(t *testing.T) {
	r := tally.BallotRecord{
		LastSeq: 0x0102030405060708,
		Choices: []tally.Choice{{Option: 4, Count: 0x0506}},
		Keys:    []uint64{0xfedcba9876543210},
	}
	want := []byte{
		0x02,
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
		0x01, 0x04, 0x05, 0x06,
		0x01, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10,
	}
	if got := encodeBallot(r); !bytes.Equal(got, want) {
		t.Fatalf("encodeBallot = % x, want % x", got, want)
	}
}

func TestDecodeBallot(t *testing.T) {
	tests := []struct {
		name string
		v    []byte
		want tally.BallotRecord // zero User: an error is wanted
	}{
		{"V1NoChoices", []byte{0, 0, 0, 0, 0, 0, 0, 9}, tally.BallotRecord{User: "u", LastSeq: 9}},
		{"V1OneChoice", []byte{0, 0, 0, 0, 0, 0, 0, 9, 2, 0, 1}, tally.BallotRecord{User: "u", LastSeq: 9, Choices: []tally.Choice{{Option: 2, Count: 1}}}},
		{"V2Empty", []byte{2, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0}, tally.BallotRecord{User: "u", LastSeq: 9}},
		{"Empty", nil, tally.BallotRecord{}},
		{"V1Short", []byte{0, 0, 0}, tally.BallotRecord{}},
		{"V1Ragged", []byte{0, 0, 0, 0, 0, 0, 0, 9, 2, 0}, tally.BallotRecord{}},
		{"UnknownVersion", []byte{3, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0}, tally.BallotRecord{}},
		{"V2NoKeyCount", []byte{2, 0, 0, 0, 0, 0, 0, 0, 9, 0}, tally.BallotRecord{}},
		{"V2ChoicesPastEnd", []byte{2, 0, 0, 0, 0, 0, 0, 0, 9, 5, 1, 0, 1, 0}, tally.BallotRecord{}},
		{"V2HugeKeyCount", []byte{2, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, tally.BallotRecord{}},
		{"V2KeyCut", []byte{2, 0, 0, 0, 0, 0, 0, 0, 9, 0, 1, 1, 2, 3}, tally.BallotRecord{}},
		{"V2Trailing", []byte{2, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0}, tally.BallotRecord{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeBallot("u", tc.v)
			if tc.want.User == "" {
				if err == nil {
					t.Fatalf("decodeBallot(% x) = %+v, want an error", tc.v, got)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("decodeBallot(% x) = %+v, %v; want %+v", tc.v, got, err, tc.want)
			}
		})
	}
}

func FuzzDecodeBallot(f *testing.F) {
	f.Add(encodeBallotV1(tally.BallotRecord{LastSeq: 7, Choices: []tally.Choice{{Option: 1, Count: 2}}}))
	f.Add(encodeBallotV1(tally.BallotRecord{LastSeq: 7}))
	f.Add(encodeBallot(tally.BallotRecord{LastSeq: 9, Choices: []tally.Choice{{Option: 3, Count: 1}}, Keys: []uint64{1, math.MaxUint64}}))
	f.Add(encodeBallot(tally.BallotRecord{}))
	f.Add([]byte{2, 0, 0, 0, 0, 0, 0, 0, 9, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})
	f.Fuzz(func(t *testing.T, v []byte) {
		r, err := decodeBallot("u", v)
		if err != nil {
			return
		}
		again, err := decodeBallot("u", encodeBallot(r))
		if err != nil || !reflect.DeepEqual(again, r) {
			t.Fatalf("% x decodes to %+v, re-encoded to %+v, %v", v, r, again, err)
		}
	})
}

func FuzzDecodeHeader(f *testing.F) {
	f.Add(encodeHeader(tally.ShardHeader{LastSeq: 5, Closed: true, Counts: []int64{1, 0, 300}}))
	f.Add(encodeHeader(tally.ShardHeader{Counts: []int64{-1}}))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 1, 0, 2, 0x80})
	f.Fuzz(func(t *testing.T, v []byte) {
		h, err := decodeHeader("p", 1, v)
		if err != nil {
			return
		}
		again, err := decodeHeader("p", 1, encodeHeader(h))
		if err != nil || !reflect.DeepEqual(again, h) {
			t.Fatalf("% x decodes to %+v, re-encoded to %+v, %v", v, h, again, err)
		}
	})
}
