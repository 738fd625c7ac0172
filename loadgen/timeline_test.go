package loadgen

import (
	"testing"
	"time"
)

func TestTimeline(t *testing.T) {
	ms := func(n int64) int64 { return n * int64(time.Millisecond) }
	first := ms(1000)
	tr := &voteTracker{lastAck: ms(1250)}
	// Two votes accepted in the first step, one in the third.
	for _, a := range []struct{ at, lat int64 }{{1010, 5}, {1090, 40}, {1250, 200}} {
		tr.acceptedAt = append(tr.acceptedAt, ms(a.at))
		tr.acceptedLat = append(tr.acceptedLat, time.Duration(ms(a.lat)))
	}
	// Frames: 50 in the first 100ms, none in the second, 10 in the third.
	s := &frameSampler{at: []int64{ms(1000), ms(1100), ms(1200), ms(1300)}, n: []int64{0, 50, 50, 60}}
	got := timeline(first, tr, s)
	want := []TimelinePoint{
		{MS: 0, AcceptedPerS: 20, AckP99MS: 40, FramesPerS: 500},
		{MS: 100, AcceptedPerS: 0, AckP99MS: 0, FramesPerS: 0},
		{MS: 200, AcceptedPerS: 10, AckP99MS: 200, FramesPerS: 100},
		{MS: 300},
	}
	if len(got) != len(want) {
		t.Fatalf("%d points, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("point %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}
