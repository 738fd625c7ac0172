package loadgen

import (
	"math"
	"slices"
	"time"
)

// Latencies are exact samples; percentiles are read from a sorted copy, so
// p999 of ten thousand votes is a real sample, not a bucket bound.
type Latencies []time.Duration

// Percentile returns the nearest-rank q-quantile (0 < q <= 1): the smallest
// sample with at least q of the samples at or below it. Zero when empty.
func (l Latencies) Percentile(q float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	return s.sortedPercentile(q)
}

func (l Latencies) sortedPercentile(q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(l)))) - 1
	return l[min(max(i, 0), len(l)-1)]
}

// Summary is the latency figures a report shows.
type Summary struct {
	P50, P99, P999, Max time.Duration
}

// Summarize sorts once and reads every figure.
func (l Latencies) Summarize() Summary {
	if len(l) == 0 {
		return Summary{}
	}
	s := slices.Clone(l)
	slices.Sort(s)
	return Summary{P50: s.sortedPercentile(0.50), P99: s.sortedPercentile(0.99), P999: s.sortedPercentile(0.999), Max: s[len(s)-1]}
}
