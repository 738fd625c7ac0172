package ingest

import (
	"math"
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// ackRate is how fast the log has been acknowledging votes lately, so a
// vote turned away because the node's in-flight publishes are at their
// cap is told to come back when there is room: after the votes ahead of
// it are acknowledged, not after a fixed few hundred milliseconds. A
// fixed wait under a spike on a log doing 2,000 votes a second brought
// every turned-away vote back two or three times (20,640 retry answers for
// 10,000 votes), each costing a read, a decode and an answer.
type ackRate struct {
	perSec atomic.Uint64 // float64 bits: PubAcks a second, smoothed; 0 unknown

	// Only the janitor's goroutine touches these.
	seen int64
	at   time.Time
}

// rateSmoothing is the weight of the newest interval in perSec.
const rateSmoothing = 0.3

// tick takes the PubAck count at now.
func (r *ackRate) tick(now time.Time, acked int64) {
	if !r.at.IsZero() {
		if d := now.Sub(r.at).Seconds(); d > 0 {
			cur := float64(acked-r.seen) / d
			old := math.Float64frombits(r.perSec.Load())
			if old > 0 {
				cur = rateSmoothing*cur + (1-rateSmoothing)*old
			}
			r.perSec.Store(math.Float64bits(cur))
		}
	}
	r.seen, r.at = acked, now
}

// Bounds of a "busy" answer's retry_after_ms.
const (
	minBusyRetry = 200 * time.Millisecond
	maxBusyRetry = 10 * time.Second
)

// busyRetryMS is the retry_after_ms for a vote turned away with waiting
// votes ahead of it: the time the log takes to acknowledge them at its
// recent rate, spread over half to one and a half times that so the
// turned-away votes do not all come back at once; 200-1000ms while the
// rate is unknown.
func (r *ackRate) busyRetryMS(waiting int) int {
	rate := math.Float64frombits(r.perSec.Load())
	if rate <= 0 {
		return 200 + rand.IntN(800)
	}
	d := time.Duration(float64(waiting) / rate * (0.5 + rand.Float64()) * float64(time.Second))
	return int(min(max(d, minBusyRetry), maxBusyRetry) / time.Millisecond)
}
