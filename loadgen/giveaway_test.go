package loadgen

import "testing"

func TestLateWinners(t *testing.T) {
	entrant := func(seq uint64, sent int64) *viewer {
		v := &viewer{}
		v.seq.Store(seq)
		v.firstSent.Store(sent)
		return v
	}
	cases := []struct {
		name   string
		es     []*viewer
		cutoff uint64
		want   int
	}{
		{"first come, first served", []*viewer{entrant(1, 10), entrant(2, 20), entrant(3, 30)}, 2, 0},
		{"a winner sent after a loser", []*viewer{entrant(1, 10), entrant(2, 40), entrant(3, 30)}, 2, 1},
		{"two, against the earliest loser", []*viewer{entrant(1, 50), entrant(2, 40), entrant(3, 30), entrant(4, 60)}, 2, 2},
		{"nobody lost", []*viewer{entrant(1, 50), entrant(2, 40)}, 2, 0},
	}
	for _, tc := range cases {
		if got := lateWinners(tc.es, tc.cutoff); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}
