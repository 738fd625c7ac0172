package loadgen

import (
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latencies is a latency distribution in an HDR histogram: a run of a
// million votes keeps a few tens of kilobytes, not a sample each, and
// every percentile is within 0.1% of the true sample (three significant
// digits), from 1 µs to 10 minutes. Not safe for concurrent use.
type Latencies struct {
	h *hdrhistogram.Histogram
}

// The histogram counts microseconds: its resolution at the low end is
// one unit, and a vote's latency is never wanted finer than 1 µs.
const (
	latencyMin = 1
	latencyMax = int64(10 * time.Minute / time.Microsecond)
)

// NewLatencies returns an empty distribution.
func NewLatencies() *Latencies {
	return &Latencies{h: hdrhistogram.New(latencyMin, latencyMax, 3)}
}

// Record adds one sample; one below 1 µs or above 10 minutes is kept as
// that bound, so nothing is lost from the count.
func (l *Latencies) Record(d time.Duration) {
	_ = l.h.RecordValue(min(max(d.Microseconds(), latencyMin), latencyMax))
}

// Count is how many samples were recorded.
func (l *Latencies) Count() int64 { return l.h.TotalCount() }

// Percentile returns the q-quantile (0 < q <= 1); zero when empty.
func (l *Latencies) Percentile(q float64) time.Duration {
	if l.h.TotalCount() == 0 {
		return 0
	}
	return time.Duration(l.h.ValueAtQuantile(q*100)) * time.Microsecond
}

// Summary is the latency figures a report shows.
type Summary struct {
	P50, P99, P999, Max time.Duration
}

// Summarize reads every figure.
func (l *Latencies) Summarize() Summary {
	if l.h.TotalCount() == 0 {
		return Summary{}
	}
	return Summary{P50: l.Percentile(0.50), P99: l.Percentile(0.99), P999: l.Percentile(0.999), Max: time.Duration(l.h.Max()) * time.Microsecond}
}
