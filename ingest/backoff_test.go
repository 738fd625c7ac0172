package ingest

import (
	"testing"
	"time"
)

func TestBusyRetryFollowsTheAckRate(t *testing.T) {
	start := time.Unix(1000, 0)
	cases := []struct {
		name     string
		acks     []int64 // PubAck counts at ticks 250ms apart
		waiting  int
		min, max int // retry_after_ms bounds
	}{
		{"rate unknown", nil, 4096, 200, 1000},
		{"one tick: still unknown", []int64{100}, 4096, 200, 1000},
		{"2,000 a second, 4,096 ahead", []int64{0, 500, 1000, 1500}, 4096, 1024, 3072},
		{"fast log: never under 200ms", []int64{0, 1_000_000}, 10, 200, 200},
		{"a trickle: never over 10s", []int64{0, 1}, 4096, 10_000, 10_000},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var r ackRate
			for i, n := range c.acks {
				r.tick(start.Add(time.Duration(i)*250*time.Millisecond), n)
			}
			for range 200 {
				if got := r.busyRetryMS(c.waiting); got < c.min || got > c.max {
					t.Fatalf("retry_after_ms %d, want %d to %d", got, c.min, c.max)
				}
			}
		})
	}
}
