package waitroom

import (
	"testing"
	"time"
)

func TestAdvance(t *testing.T) {
	t0 := time.UnixMilli(1_700_000_000_000)
	ms := func(d time.Duration) int64 { return t0.Add(d).UnixMilli() }
	for _, tc := range []struct {
		name  string
		st    State
		last  uint64
		free  int
		now   time.Duration
		moved bool
		want  State
	}{
		{"nobody waits", State{Serving: 10, Rate: 100, At: ms(0)}, 10, 50, time.Second, false, State{}},
		{"rate zero holds the line", State{Serving: 0, Rate: 0, At: ms(0)}, 10, 50, time.Second, false, State{}},
		{"no free slot", State{Serving: 0, Rate: 100, At: ms(0)}, 10, 0, time.Second, false, State{}},
		{"less than one viewer earned", State{Serving: 0, Rate: 4, At: ms(0)}, 10, 50, 200 * time.Millisecond, false, State{}},
		{"the rate's share of the interval, remainder kept", State{Serving: 0, Rate: 4, At: ms(0), WinAt: ms(0)}, 10, 50, 600 * time.Millisecond, true,
			State{Serving: 2, Rate: 4, At: ms(500 * time.Millisecond), Admitted: 2, WinAt: ms(600 * time.Millisecond), WinN: 2}},
		{"at most a second's worth", State{Serving: 0, Rate: 5, At: ms(0)}, 100, 50, time.Minute, true,
			State{Serving: 5, Rate: 5, At: ms(time.Minute), Admitted: 5, WinAt: ms(time.Minute), WinN: 5}},
		{"at most the places given", State{Serving: 8, Rate: 100, At: ms(0)}, 10, 50, time.Second, true,
			State{Serving: 10, Rate: 100, At: ms(time.Second), Admitted: 2, WinAt: ms(time.Second), WinN: 2}},
		{"at most the free slots in a report's window", State{Serving: 0, Rate: 100, At: ms(0), WinAt: ms(900 * time.Millisecond), WinN: 3}, 100, 5, time.Second, true,
			State{Serving: 2, Rate: 100, At: ms(time.Second), Admitted: 2, WinAt: ms(900 * time.Millisecond), WinN: 5}},
		{"free slots spent in this window", State{Serving: 0, Rate: 100, At: ms(0), WinAt: ms(900 * time.Millisecond), WinN: 5}, 100, 5, time.Second, false, State{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, moved := advance(tc.st, tc.last, tc.free, t0.Add(tc.now))
			if moved != tc.moved {
				t.Fatalf("moved %v, want %v (%+v)", moved, tc.moved, got)
			}
			if moved && got != tc.want {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}
