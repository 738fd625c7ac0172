package schema

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestDecodeClientFrame(t *testing.T) {
	tests := []struct {
		in      string
		want    VoteFrame
		wantErr string
	}{
		{`{"type":"vote","id":"k-1_A","option":2}`, VoteFrame{ID: "k-1_A", Option: 2, Count: 1}, ""},
		{`{"type":"vote","id":"k","option":1,"count":0}`, VoteFrame{ID: "k", Option: 1, Count: 0}, ""},
		{`{"type":"vote","id":"k","option":32}`, VoteFrame{}, "option out of range"},
		{`{"type":"vote","id":"k","option":-1}`, VoteFrame{}, "option out of range"},
		{`{"type":"vote","id":"k","option":1,"count":101}`, VoteFrame{}, "count must be between"},
		{`{"type":"vote","id":"` + strings.Repeat("k", 65) + `","option":1}`, VoteFrame{}, "id longer than"},
		{`{"type":"vote","id":"k","option":1} x`, VoteFrame{}, "trailing data"},
		{`[]`, VoteFrame{}, "wrong type"},
	}
	for _, tc := range tests {
		got, err := DecodeClientFrame([]byte(tc.in))
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: error %v, want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestAppendAckIsJSON(t *testing.T) {
	b := AppendAck(nil, Ack{ID: "k1", Status: StatusRetry, Reason: `busy "now"`, RetryAfterMS: 250})
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if got["type"] != "ack" || got["id"] != "k1" || got["status"] != "retry" || got["reason"] != `busy "now"` || got["retry_after_ms"] != 250.0 {
		t.Fatalf("ack = %v", got)
	}
}

func TestEncodeResultsHidesCounts(t *testing.T) {
	tot := Totals{Poll: "abcdefghij", State: Open, Counts: []int64{4, 5}, Total: 9}
	if s := string(EncodeResults(tot, false)); strings.Contains(s, "counts") || strings.Contains(s, "total") || !strings.Contains(s, `"hidden":true`) {
		t.Fatalf("hidden frame leaks: %s", s)
	}
	if s := string(EncodeResults(tot, true)); !strings.Contains(s, `"counts":[4,5]`) || !strings.Contains(s, `"total":9`) {
		t.Fatalf("visible frame: %s", s)
	}
}

func TestShardOfIsStable(t *testing.T) {
	// Pinned values: changing the hash would move users between shards
	// of a running poll and break exactly-once.
	tests := []struct {
		user    string
		n, want int
	}{
		{"alice", 16, 9}, {"bob", 16, 11}, {"viewer-42", 16, 15},
		{"anon:AAAAAAAAAAAAAAAA", 16, 12}, {"alice", 256, 73}, {"viewer-42", 256, 111},
	}
	for _, tc := range tests {
		if got := ShardOf(tc.user, tc.n); got != tc.want {
			t.Errorf("ShardOf(%q, %d) = %d, want %d", tc.user, tc.n, got, tc.want)
		}
	}
}

func BenchmarkDecodeClientFrame(b *testing.B) {
	frame := []byte(`{"type":"vote","id":"c0ffee-12","option":2}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeClientFrame(frame); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeEvent(b *testing.B) {
	ev := AppendVoteEvent(nil, "viewer-000123", VoteFrame{ID: "c0ffee-12", Option: 2, Count: 1})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeEvent(ev); err != nil {
			b.Fatal(err)
		}
	}
}
