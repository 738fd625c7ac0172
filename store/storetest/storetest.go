// Package storetest is the one test suite every tally.Store must pass, so
// the embedded and the ScyllaDB stores are held to the same contract.
package storetest

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/votecast/votecast/schema"
	"github.com/votecast/votecast/tally"
)

// what an earlier store flushed: the suite closes the first store itself.

// Run runs the suite. open is called once per subtest for a fresh store,
// and again inside a subtest to reopen it when reopen is true.
func Run(t *testing.T, open func(t *testing.T, fresh bool) tally.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, open func(fresh bool) tally.Store)
	}{
		{"EmptyShard", testEmpty},
		{"RoundTrip", testRoundTrip},
		{"FlushIsIdempotent", testIdempotent},
		{"HeadersPerPoll", testHeaders},
		{"ManyBallots", testMany},
		{"SurvivesReopen", testReopen},
		{"KeysRoundTrip", testKeys},
		{"ManyKeys", testManyKeys},
		{"LoadBallot", testLoadBallot},
		{"KeysReplaced", testKeysReplaced},
		{"HeaderNeverBack", testHeaderNeverBack},
		{"Checkpoints", testCheckpoints},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, func(fresh bool) tally.Store { return open(t, fresh) })
		})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

func testEmpty(t *testing.T, open func(bool) tally.Store) {
	s := open(true)
	st, err := s.LoadShard(ctx(t), schema.NewPollID(), 3)
	if err != nil {
		t.Fatalf("LoadShard: %v", err)
	}
	if len(st.Ballots) != 0 || st.Header.LastSeq != 0 || st.Header.Closed {
		t.Fatalf("empty shard = %+v, want nothing", st)
	}
}

func update(poll string, shard int, seq uint64, closed bool, counts []int64, ballots ...tally.BallotRecord) tally.ShardUpdate {
	return tally.ShardUpdate{
		Header:  tally.ShardHeader{Poll: poll, Shard: shard, LastSeq: seq, Closed: closed, Counts: counts},
		Ballots: ballots,
	}
}

func ballot(user string, seq uint64, choices ...tally.Choice) tally.BallotRecord {
	return tally.BallotRecord{User: user, LastSeq: seq, Choices: choices}
}

func sortBallots(bs []tally.BallotRecord) {
	sort.Slice(bs, func(i, j int) bool { return bs[i].User < bs[j].User })
}

func equalBallots(t *testing.T, got, want []tally.BallotRecord) {
	t.Helper()
	sortBallots(got)
	sortBallots(want)
	if len(got) != len(want) {
		t.Fatalf("got %d ballots, want %d", len(got), len(want))
	}
	for i := range want {
		if !sameBallot(got[i], want[i]) {
			t.Fatalf("ballot %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// sameBallot compares ballots field by field; a nil list and an empty one
// are the same, since a store may keep either for "none".
func sameBallot(a, b tally.BallotRecord) bool {
	return a.User == b.User && a.LastSeq == b.LastSeq && slices.Equal(a.Choices, b.Choices) && slices.Equal(a.Keys, b.Keys)
}

func withKeys(b tally.BallotRecord, keys ...uint64) tally.BallotRecord {
	b.Keys = keys
	return b
}

func testRoundTrip(t *testing.T, open func(bool) tally.Store) {
	s := open(true)
	poll := schema.NewPollID()
	want := []tally.BallotRecord{
		ballot("alice", 7, tally.Choice{Option: 1, Count: 1}),
		ballot("bob", 9, tally.Choice{Option: 0, Count: 2}, tally.Choice{Option: 3, Count: 1}),
		ballot("carol/with:odd.bytes é", 11), // a refused vote: no choices
	}
	if err := s.Flush(ctx(t), []tally.ShardUpdate{update(poll, 5, 11, true, []int64{2, 1, 0, 1}, want...)}); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	st, err := s.LoadShard(ctx(t), poll, 5)
	if err != nil {
		t.Fatalf("LoadShard: %v", err)
	}
	h := st.Header
	if h.Poll != poll || h.Shard != 5 || h.LastSeq != 11 || !h.Closed || !slices.Equal(h.Counts, []int64{2, 1, 0, 1}) {
		t.Fatalf("header = %+v", h)
	}
	equalBallots(t, st.Ballots, want)
	other, err := s.LoadShard(ctx(t), poll, 4)
	if err != nil || len(other.Ballots) != 0 {
		t.Fatalf("neighbour shard = %+v, %v; want empty", other, err)
	}
}

func testIdempotent(t *testing.T, open func(bool) tally.Store) {
	s := open(true)
	poll := schema.NewPollID()
	first := update(poll, 0, 3, false, []int64{1, 0}, ballot("u", 3, tally.Choice{Option: 0, Count: 1}))
	moved := update(poll, 0, 8, false, []int64{0, 1}, ballot("u", 8, tally.Choice{Option: 1, Count: 1}))
	for _, u := range []tally.ShardUpdate{first, moved, moved} {
		if err := s.Flush(ctx(t), []tally.ShardUpdate{u}); err != nil {
			t.Fatalf("Flush: %v", err)
		}
	}
	st, err := s.LoadShard(ctx(t), poll, 0)
	if err != nil {
		t.Fatalf("LoadShard: %v", err)
	}
	equalBallots(t, st.Ballots, moved.Ballots)
	if !slices.Equal(st.Header.Counts, []int64{0, 1}) {
		t.Fatalf("counts = %v, want [0 1]", st.Header.Counts)
	}
}

func testHeaders(t *testing.T, open func(bool) tally.Store) {
	s := open(true)
	poll, other := schema.NewPollID(), schema.NewPollID()
	err := s.Flush(ctx(t), []tally.ShardUpdate{
		update(poll, 0, 1, false, []int64{1, 0}),
		update(poll, 7, 2, false, []int64{0, 2}),
		update(other, 0, 3, false, []int64{5, 5}),
	})
	if err != nil {
		t.Fatalf("Flush: %v", err)
	}
	hs, err := s.Headers(ctx(t), poll)
	if err != nil {
		t.Fatalf("Headers: %v", err)
	}
	if len(hs) != 2 {
		t.Fatalf("got %d headers, want 2: %+v", len(hs), hs)
	}
	if got := tally.SumHeaders(hs, 2); !slices.Equal(got, []int64{1, 2}) {
		t.Fatalf("sum = %v, want [1 2]", got)
	}
}

func testMany(t *testing.T, open func(bool) tally.Store) {
	s := open(true)
	poll := schema.NewPollID()
	const n = 5000 // above any server's batch limit: the store must chunk
	var want []tally.BallotRecord
	for i := range n {
		want = append(want, ballot(fmt.Sprintf("user-%05d", i), uint64(i+1), tally.Choice{Option: uint8(i % 4), Count: 1}))
	}
	if err := s.Flush(ctx(t), []tally.ShardUpdate{update(poll, 2, n, false, []int64{1250, 1250, 1250, 1250}, want...)}); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	st, err := s.LoadShard(ctx(t), poll, 2)
	if err != nil {
		t.Fatalf("LoadShard: %v", err)
	}
	equalBallots(t, st.Ballots, want)
}

func testReopen(t *testing.T, open func(bool) tally.Store) {
	s := open(true)
	poll := schema.NewPollID()
	want := []tally.BallotRecord{withKeys(ballot("u1", 4, tally.Choice{Option: 2, Count: 1}), 1<<63|4, 4)}
	if err := s.Flush(ctx(t), []tally.ShardUpdate{update(poll, 1, 4, false, []int64{0, 0, 1}, want...)}); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	s = open(false)
	st, err := s.LoadShard(ctx(t), poll, 1)
	if err != nil {
		t.Fatalf("LoadShard after reopen: %v", err)
	}
	equalBallots(t, st.Ballots, want)
}

// Key hashes come back as they went in, in their order (oldest first, not
// sorted), whatever their top bit: a store with signed 64-bit integers
// must not lose or reject the hashes at and above 2^63.
func testKeys(t *testing.T, open func(bool) tally.Store) {
	s := open(true)
	poll := schema.NewPollID()
	want := []tally.BallotRecord{
		withKeys(ballot("high", 5, tally.Choice{Option: 1, Count: 1}), math.MaxUint64, 1<<63, 1<<63-1, 0, 42),
		withKeys(ballot("one", 6, tally.Choice{Option: 0, Count: 1}), 0xdeadbeefcafef00d),
		ballot("none", 7, tally.Choice{Option: 2, Count: 1}), // as from before keys were kept
		withKeys(ballot("nochoices", 8), 17),                 // keys without choices
	}
	if err := s.Flush(ctx(t), []tally.ShardUpdate{update(poll, 6, 8, false, []int64{1, 1, 1}, want...)}); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	st, err := s.LoadShard(ctx(t), poll, 6)
	if err != nil {
		t.Fatalf("LoadShard: %v", err)
	}
	equalBallots(t, st.Ballots, want)
	for _, w := range want {
		got, ok, err := s.LoadBallot(ctx(t), poll, 6, w.User)
		if err != nil || !ok || !sameBallot(got, w) {
			t.Fatalf("LoadBallot(%s) = %+v, %v, %v; want %+v", w.User, got, ok, err, w)
		}
	}
}

// A hundred keys on every ballot, the most the fold keeps: the rows are
// far bigger than without keys, and a flush of many must still fit.
func testManyKeys(t *testing.T, open func(bool) tally.Store) {
	s := open(true)
	poll := schema.NewPollID()
	var want []tally.BallotRecord
	for i := range 300 {
		keys := make([]uint64, 100)
		for j := range keys {
			keys[j] = uint64(i)<<32 | uint64(j) | 1<<63
		}
		want = append(want, withKeys(ballot(fmt.Sprintf("user-%03d", i), uint64(i+1), tally.Choice{Option: 0, Count: 1}), keys...))
	}
	if err := s.Flush(ctx(t), []tally.ShardUpdate{update(poll, 0, 300, false, []int64{300}, want...)}); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	st, err := s.LoadShard(ctx(t), poll, 0)
	if err != nil {
		t.Fatalf("LoadShard: %v", err)
	}
	equalBallots(t, st.Ballots, want)
}

// LoadBallot finds exactly one user's ballot of one poll shard, and the
// one the latest flush wrote.
func testLoadBallot(t *testing.T, open func(bool) tally.Store) {
	s := open(true)
	poll, other := schema.NewPollID(), schema.NewPollID()
	first := withKeys(ballot("u", 3, tally.Choice{Option: 0, Count: 1}), 1)
	err := s.Flush(ctx(t), []tally.ShardUpdate{
		update(poll, 2, 3, false, []int64{1, 0}, first, withKeys(ballot("v", 2, tally.Choice{Option: 1, Count: 1}), 2)),
		update(other, 2, 3, false, []int64{1, 0}, withKeys(ballot("w", 3, tally.Choice{Option: 0, Count: 1}), 3)),
	})
	if err != nil {
		t.Fatalf("Flush: %v", err)
	}
	check := func(name, poll string, shard int, user string, want tally.BallotRecord, wantOK bool) {
		t.Helper()
		got, ok, err := s.LoadBallot(ctx(t), poll, shard, user)
		switch {
		case err != nil:
			t.Fatalf("%s: LoadBallot: %v", name, err)
		case ok != wantOK:
			t.Fatalf("%s: LoadBallot ok = %v, want %v (ballot %+v)", name, ok, wantOK, got)
		case ok && !sameBallot(got, want):
			t.Fatalf("%s: LoadBallot = %+v, want %+v", name, got, want)
		}
	}
	check("Found", poll, 2, "u", first, true)
	check("UnknownUser", poll, 2, "nobody", tally.BallotRecord{}, false)
	check("UserPrefix", poll, 2, "", tally.BallotRecord{}, false)
	check("OtherShard", poll, 1, "u", tally.BallotRecord{}, false)
	check("OtherPoll", other, 2, "u", tally.BallotRecord{}, false)
	check("NeverFlushedPoll", schema.NewPollID(), 2, "u", tally.BallotRecord{}, false)

	moved := withKeys(ballot("u", 9, tally.Choice{Option: 1, Count: 1}), 1, 4)
	if err := s.Flush(ctx(t), []tally.ShardUpdate{update(poll, 2, 9, false, []int64{0, 2}, moved)}); err != nil {
		t.Fatalf("second Flush: %v", err)
	}
	check("Overwritten", poll, 2, "u", moved, true)
}

// A later flush of a ballot replaces its key list with the one it carries:
// not a union, so the keys the fold dropped (the oldest, past its limit)
// are gone from the store too.
func testKeysReplaced(t *testing.T, open func(bool) tally.Store) {
	s := open(true)
	poll := schema.NewPollID()
	steps := []tally.BallotRecord{
		ballot("u", 2, tally.Choice{Option: 0, Count: 1}), // stored with no keys
		withKeys(ballot("u", 4, tally.Choice{Option: 0, Count: 1}), 10, 1<<63|11),
		withKeys(ballot("u", 6, tally.Choice{Option: 1, Count: 1}), 10, 1<<63|11, 12, math.MaxUint64),
		withKeys(ballot("u", 8, tally.Choice{Option: 1, Count: 2}), 12, math.MaxUint64, 13),
	}
	for _, b := range steps {
		if err := s.Flush(ctx(t), []tally.ShardUpdate{update(poll, 1, b.LastSeq, false, []int64{0, 1}, b)}); err != nil {
			t.Fatalf("Flush seq %d: %v", b.LastSeq, err)
		}
		st, err := s.LoadShard(ctx(t), poll, 1)
		if err != nil {
			t.Fatalf("LoadShard after seq %d: %v", b.LastSeq, err)
		}
		equalBallots(t, st.Ballots, []tally.BallotRecord{b})
		got, ok, err := s.LoadBallot(ctx(t), poll, 1, "u")
		if err != nil || !ok || !sameBallot(got, b) {
			t.Fatalf("LoadBallot after seq %d = %+v, %v, %v; want %+v", b.LastSeq, got, ok, err, b)
		}
	}
}

// A shard header is ordered by LastSeq: a header with a lower LastSeq than
// the stored one (a paused old owner writing late) leaves the stored one,
// in a later flush or in the same one, as Headers and LoadShard both show;
// a higher one replaces it, and the skipped header holds back no other.
func testHeaderNeverBack(t *testing.T, open func(bool) tally.Store) {
	s := open(true)
	type want struct {
		shard  int
		seq    uint64
		closed bool
		counts []int64
	}
	tests := []struct {
		name    string
		flushes [][]tally.ShardUpdate // "" as poll: the case's own poll
		want    []want
	}{
		{
			"LowerLater",
			[][]tally.ShardUpdate{
				{update("", 1, 20, true, []int64{0, 2})},
				{update("", 1, 10, false, []int64{1, 0})},
			},
			[]want{{1, 20, true, []int64{0, 2}}},
		},
		{
			"LowerInSameFlush",
			[][]tally.ShardUpdate{
				{update("", 1, 20, false, []int64{0, 2}), update("", 1, 10, false, []int64{1, 0})},
			},
			[]want{{1, 20, false, []int64{0, 2}}},
		},
		{
			"HigherLater",
			[][]tally.ShardUpdate{
				{update("", 1, 10, false, []int64{1, 0})},
				{update("", 1, 20, true, []int64{0, 2})},
			},
			[]want{{1, 20, true, []int64{0, 2}}},
		},
		{
			"LowerBesideNewer",
			[][]tally.ShardUpdate{
				{update("", 1, 20, false, []int64{0, 2}), update("", 2, 5, false, []int64{1, 0})},
				{update("", 1, 10, false, []int64{1, 0}), update("", 2, 9, false, []int64{3, 1})},
			},
			[]want{{1, 20, false, []int64{0, 2}}, {2, 9, false, []int64{3, 1}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			poll := schema.NewPollID()
			for i, f := range tc.flushes {
				ups := slices.Clone(f)
				for j := range ups {
					ups[j].Header.Poll = poll
				}
				if err := s.Flush(ctx(t), ups); err != nil {
					t.Fatalf("Flush %d: %v", i, err)
				}
			}
			hs, err := s.Headers(ctx(t), poll)
			if err != nil {
				t.Fatalf("Headers: %v", err)
			}
			sort.Slice(hs, func(i, j int) bool { return hs[i].Shard < hs[j].Shard })
			if len(hs) != len(tc.want) {
				t.Fatalf("Headers = %+v, want %d", hs, len(tc.want))
			}
			for i, w := range tc.want {
				st, err := s.LoadShard(ctx(t), poll, w.shard)
				if err != nil {
					t.Fatalf("LoadShard %d: %v", w.shard, err)
				}
				for _, h := range []tally.ShardHeader{hs[i], st.Header} {
					if h.Poll != poll || h.Shard != w.shard || h.LastSeq != w.seq || h.Closed != w.closed || !slices.Equal(h.Counts, w.counts) {
						t.Fatalf("header of shard %d = %+v, want %+v (Headers: %+v, LoadShard: %+v)", w.shard, h, w, hs[i], st.Header)
					}
				}
			}
		})
	}
}

// Checkpoints are kept per shard index: 0 until one is saved, then the
// highest saved, whatever order saves come in, one index independent of
// the others, and still there after a reopen. They belong to no poll, so
// on a store the subtests share (one keyspace) every case takes indices
// of its own: case i uses 1000+10i and up.
func testCheckpoints(t *testing.T, open func(bool) tally.Store) {
	s := open(true)
	type save struct {
		shard int // offset in the case's indices
		seq   uint64
	}
	tests := []struct {
		name   string
		saves  []save
		reopen bool
		want   []uint64 // by offset; every offset not saved is 0
	}{
		{"None", nil, false, []uint64{0}},
		{"RoundTrip", []save{{0, 42}}, false, []uint64{42}},
		{"Forward", []save{{0, 30}, {0, 50}}, false, []uint64{50}},
		{"NeverBack", []save{{0, 50}, {0, 30}}, false, []uint64{50}},
		{"Equal", []save{{0, 50}, {0, 50}}, false, []uint64{50}},
		{"Independent", []save{{0, 7}, {1, 9}, {0, 3}, {2, 1}, {2, 12}}, false, []uint64{7, 9, 12, 0}},
		{"SurvivesReopen", []save{{0, 1 << 40}, {1, 5}}, true, []uint64{1 << 40, 5}},
	}
	for i, tc := range tests {
		base := 1000 + 10*i
		t.Run(tc.name, func(t *testing.T) {
			for _, sv := range tc.saves {
				if err := s.SaveCheckpoint(ctx(t), base+sv.shard, sv.seq); err != nil {
					t.Fatalf("SaveCheckpoint(%d, %d): %v", base+sv.shard, sv.seq, err)
				}
			}
			if tc.reopen {
				if err := s.Close(); err != nil {
					t.Fatalf("Close: %v", err)
				}
				s = open(false)
			}
			for off, w := range tc.want {
				got, err := s.LoadCheckpoint(ctx(t), base+off)
				if err != nil || got != w {
					t.Fatalf("LoadCheckpoint(%d) = %d, %v; want %d", base+off, got, err, w)
				}
			}
		})
	}
}
