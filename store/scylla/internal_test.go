package scylla

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gocql/gocql"

	"github.com/votecast/votecast/tally"
)

func TestReplicationMap(t *testing.T) {
	tests := []struct {
		spec, want string
	}{
		{"SimpleStrategy 1", "{'class': 'SimpleStrategy', 'replication_factor': 1}"},
		{"  SimpleStrategy   3 ", "{'class': 'SimpleStrategy', 'replication_factor': 3}"},
		{"NetworkTopologyStrategy dc1:3", "{'class': 'NetworkTopologyStrategy', 'dc1': 3}"},
		{"NetworkTopologyStrategy eu-west.1:3 us_east:2", "{'class': 'NetworkTopologyStrategy', 'eu-west.1': 3, 'us_east': 2}"},
		{"", ""},
		{"SimpleStrategy", ""},
		{"SimpleStrategy 0", ""},
		{"SimpleStrategy 1 2", ""},
		{"NetworkTopologyStrategy", ""},
		{"NetworkTopologyStrategy dc1", ""},
		{"NetworkTopologyStrategy dc1:3 dc1:2", ""},
		{"NetworkTopologyStrategy dc'1:3", ""},
		{"LocalStrategy 1", ""},
	}
	for _, tc := range tests {
		got, err := replicationMap(tc.spec)
		if tc.want == "" {
			if err == nil {
				t.Errorf("replicationMap(%q) = %s, want an error", tc.spec, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("replicationMap(%q) = %s, %v; want %s", tc.spec, got, err, tc.want)
		}
	}
}

func TestSplitStatements(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"Empty", " \n-- only a comment;\n", nil},
		{"Two", "CREATE TABLE a (k int);\nCREATE TABLE b (k int);", []string{"CREATE TABLE a (k int)", "CREATE TABLE b (k int)"}},
		{"NoFinalSemicolon", "SELECT 1;\n SELECT 2 ", []string{"SELECT 1", "SELECT 2"}},
		{"CommentsWithSemicolons", "-- x; y\nA; // z; 'w\nB /* c; */ C;", []string{"A", "B   C"}},
		{"QuotedSemicolon", "INSERT INTO t (v) VALUES ('a;b''c;');X", []string{"INSERT INTO t (v) VALUES ('a;b''c;')", "X"}},
		{"QuotedIdentifier", `CREATE TABLE "we;ird" (k int);`, []string{`CREATE TABLE "we;ird" (k int)`}},
		{"DashesInString", "A '--not a comment';", []string{"A '--not a comment'"}},
		{"UnterminatedBlock", "A; /* open", []string{"A"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := splitStatements(tc.src); !slices.Equal(got, tc.want) {
				t.Fatalf("splitStatements(%q) = %q, want %q", tc.src, got, tc.want)
			}
		})
	}
}

func TestChunkBallots(t *testing.T) {
	ballots := func(n, userLen int) []tally.BallotRecord {
		out := make([]tally.BallotRecord, n)
		for i := range out {
			out[i] = tally.BallotRecord{User: strings.Repeat("u", userLen), LastSeq: uint64(i), Choices: []tally.Choice{{Option: 1, Count: 1}}}
		}
		return out
	}
	tests := []struct {
		name  string
		in    []tally.BallotRecord
		sizes []int
	}{
		{"None", nil, nil},
		{"One", ballots(1, 10), []int{1}},
		{"ExactlyRowCap", ballots(maxBatchRows, 10), []int{maxBatchRows}},
		{"RowCap", ballots(2*maxBatchRows+1, 10), []int{maxBatchRows, maxBatchRows, 1}},
		{"ByteCap", ballots(10, 10_000), []int{3, 3, 3, 1}},
		{"HugeRowAlone", ballots(2, maxBatchBytes*2), []int{1, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var sizes []int
			total := 0
			for _, c := range chunkBallots(tc.in) {
				sizes = append(sizes, len(c))
				bytes := 0
				for _, b := range c {
					bytes += ballotSize(b)
				}
				if len(c) > 1 && bytes > maxBatchBytes {
					t.Errorf("chunk of %d ballots has %d bytes", len(c), bytes)
				}
				total += len(c)
			}
			if !slices.Equal(sizes, tc.sizes) || total != len(tc.in) {
				t.Fatalf("chunk sizes = %v, want %v", sizes, tc.sizes)
			}
		})
	}
}

func TestHeadersByPoll(t *testing.T) {
	var ups []tally.ShardUpdate
	for i := range 2*maxBatchRows + 5 {
		ups = append(ups, tally.ShardUpdate{Header: tally.ShardHeader{Poll: "a", Shard: i}})
	}
	ups = append(ups, tally.ShardUpdate{Header: tally.ShardHeader{Poll: "b", Shard: 0}})
	var got []string
	for _, hs := range headersByPoll(ups) {
		for _, h := range hs[1:] {
			if h.Poll != hs[0].Poll {
				t.Fatalf("batch mixes polls %s and %s", hs[0].Poll, h.Poll)
			}
		}
		got = append(got, fmt.Sprintf("%s:%d", hs[0].Poll, len(hs)))
	}
	if want := []string{"a:100", "a:100", "a:5", "b:1"}; !slices.Equal(got, want) {
		t.Fatalf("header batches = %v, want %v", got, want)
	}
}

type codeErr struct{ code int }

// frameErr is how the driver's error types carry a server's code.
type frameErr struct{ code int }

func (e frameErr) GetCode() int  { return e.code }
func (e frameErr) Error() string { return fmt.Sprintf("frame code %#x", e.code) }

func (e codeErr) Code() int       { return e.code }
func (e codeErr) Message() string { return "m" }
func (e codeErr) Error() string   { return fmt.Sprintf("code %#x", e.code) }

func TestWrapErr(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		retriable bool
	}{
		{"NoHosts", gocql.ErrNoConnections, true},
		{"ClientTimeout", fmt.Errorf("exec: %w", gocql.ErrTimeoutNoResponse), true},
		{"Deadline", context.DeadlineExceeded, true},
		{"Unavailable", codeErr{gocql.ErrCodeUnavailable}, true},
		{"WriteTimeout", codeErr{gocql.ErrCodeWriteTimeout}, true},
		{"Overloaded", codeErr{gocql.ErrCodeOverloaded}, true},
		{"FrameOverloaded", fmt.Errorf("exec: %w", frameErr{gocql.ErrCodeOverloaded}), true},
		{"FrameInvalid", frameErr{gocql.ErrCodeInvalid}, false},
		{"Canceled", context.Canceled, false},
		{"Syntax", codeErr{gocql.ErrCodeSyntax}, false},
		{"Invalid", codeErr{gocql.ErrCodeInvalid}, false},
		{"SessionClosed", gocql.ErrSessionClosed, false},
		{"Other", errors.New("bad"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := wrapErr(tc.err, "flush shard %s/%d", "p", 3)
			if got := errors.Is(err, tally.ErrStoreUnavailable); got != tc.retriable {
				t.Fatalf("wrapErr(%v) retriable = %v, want %v", tc.err, got, tc.retriable)
			}
			if !errors.Is(err, tc.err) || !strings.HasPrefix(err.Error(), "flush shard p/3: ") {
				t.Fatalf("wrapErr(%v) = %v: lost the cause or the context", tc.err, err)
			}
		})
	}
}
