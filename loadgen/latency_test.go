package loadgen

import (
	"math"
	"testing"
	"time"
)

// within says whether got is the exact sample want to the histogram's
// three significant digits.
func within(got, want time.Duration) bool {
	return math.Abs(float64(got-want)) <= float64(want)/1000+1
}

func TestPercentile(t *testing.T) {
	ms := time.Millisecond
	thousand := NewLatencies()
	for i := 1000; i >= 1; i-- { // unsorted on purpose
		thousand.Record(time.Duration(i) * ms)
	}
	one := NewLatencies()
	one.Record(5 * ms)
	ten := NewLatencies()
	for i := 1; i <= 10; i++ {
		ten.Record(time.Duration(i) * time.Microsecond)
	}
	tests := []struct {
		name string
		l    *Latencies
		q    float64
		want time.Duration
	}{
		{"empty", NewLatencies(), 0.99, 0},
		{"one", one, 0.5, 5 * ms},
		{"p50 of 1..1000", thousand, 0.50, 500 * ms},
		{"p99 of 1..1000", thousand, 0.99, 990 * ms},
		{"p999 of 1..1000", thousand, 0.999, 999 * ms},
		{"max", thousand, 1, 1000 * ms},
		{"tiny q", thousand, 0.0001, 1 * ms},
		{"p99 of 10 is the max", ten, 0.99, 10 * time.Microsecond},
	}
	for _, tt := range tests {
		if got := tt.l.Percentile(tt.q); !within(got, tt.want) || (tt.want == 0) != (got == 0) {
			t.Errorf("%s: Percentile(%g) = %v, want %v", tt.name, tt.q, got, tt.want)
		}
	}
	s := thousand.Summarize()
	if !within(s.P50, 500*ms) || !within(s.P99, 990*ms) || !within(s.P999, 999*ms) || !within(s.Max, 1000*ms) {
		t.Errorf("Summarize = %+v", s)
	}
	if thousand.Count() != 1000 {
		t.Errorf("Count = %d", thousand.Count())
	}
}

// TestLatenciesOutOfRange: samples past the bounds still count, at the
// bound: a lost sample would move every percentile.
func TestLatenciesOutOfRange(t *testing.T) {
	l := NewLatencies()
	l.Record(0)
	l.Record(time.Hour)
	if l.Count() != 2 || !within(l.Summarize().Max, 10*time.Minute) {
		t.Fatalf("count %d, max %v", l.Count(), l.Summarize().Max)
	}
}

// BenchmarkLatenciesRecord: the vote tracker records under its lock,
// once per answer.
func BenchmarkLatenciesRecord(b *testing.B) {
	l := NewLatencies()
	for i := range b.N {
		l.Record(time.Duration(i%100_000) * time.Microsecond)
	}
}
