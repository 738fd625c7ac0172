package schema

import (
	"errors"
	"testing"
)

func FuzzDecodeClientFrame(f *testing.F) {
	for _, s := range []string{
		`{"type":"vote","id":"k1","option":2}`,
		`{"type":"vote","id":"k1","option":0,"count":3}`,
		`{"type":"vote"}`, `not json`, `{"type":"vote","id":"k","option":1}{}`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := DecodeClientFrame(b)
		if err != nil {
			if !errors.Is(err, ErrBadFrame) {
				t.Fatalf("error %v does not wrap ErrBadFrame", err)
			}
			return
		}
		// Whatever decodes must be safe to publish and to ack.
		if checkClientKey(v.ID) != nil || v.Option < 0 || v.Option >= MaxOptions || v.Count < 0 || v.Count > MaxVotesPerUser {
			t.Fatalf("decoded an invalid frame: %+v", v)
		}
		ev, err := DecodeEvent(AppendVoteEvent(nil, "user", v))
		if err != nil || ev.Option != v.Option || ev.Count != v.Count || ev.ClientKey != v.ID {
			t.Fatalf("event round trip of %+v = %+v, %v", v, ev, err)
		}
	})
}

func FuzzDecodeEvent(f *testing.F) {
	f.Add(AppendVoteEvent(nil, "viewer-1", VoteFrame{ID: "abc", Option: 3, Count: 2}))
	f.Add(CloseMarkerEvent())
	f.Add([]byte{'V', 0, 0, 1, 1, 'u', 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := DecodeEvent(b)
		if err != nil {
			if !errors.Is(err, ErrBadEvent) {
				t.Fatalf("error %v does not wrap ErrBadEvent", err)
			}
			return
		}
		if ev.Close {
			return
		}
		again := AppendVoteEvent(nil, ev.User, VoteFrame{ID: ev.ClientKey, Option: ev.Option, Count: ev.Count})
		if string(again) != string(b) {
			t.Fatalf("re-encoding %q gave %q", b, again)
		}
	})
}

func FuzzDecodeSnapshot(f *testing.F) {
	f.Add(EncodeSnapshot(Snapshot{Poll: "abcdefghij", Shard: 3, Seq: 99, Counts: []int64{1, 2}}))
	f.Add([]byte(`{"poll":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeSnapshot(b)
		if err != nil {
			return
		}
		if !ValidPollID(s.Poll) || s.Shard < 0 || s.Shard >= MaxShards || len(s.Counts) > MaxOptions {
			t.Fatalf("decoded an invalid snapshot: %+v", s)
		}
	})
}
