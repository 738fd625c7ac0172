package loadgen

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := time.Millisecond
	var thousand Latencies
	for i := 1000; i >= 1; i-- { // unsorted on purpose
		thousand = append(thousand, time.Duration(i)*ms)
	}
	tests := []struct {
		name string
		l    Latencies
		q    float64
		want time.Duration
	}{
		{"empty", nil, 0.99, 0},
		{"one", Latencies{5 * ms}, 0.5, 5 * ms},
		{"p50 of 1..1000", thousand, 0.50, 500 * ms},
		{"p99 of 1..1000", thousand, 0.99, 990 * ms},
		{"p999 of 1..1000", thousand, 0.999, 999 * ms},
		{"max", thousand, 1, 1000 * ms},
		{"tiny q", thousand, 0.0001, 1 * ms},
		{"p99 of 10 is the max", Latencies{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.99, 10},
	}
	for _, tt := range tests {
		if got := tt.l.Percentile(tt.q); got != tt.want {
			t.Errorf("%s: Percentile(%g) = %v, want %v", tt.name, tt.q, got, tt.want)
		}
	}
	s := thousand.Summarize()
	if s.P50 != 500*ms || s.P99 != 990*ms || s.P999 != 999*ms || s.Max != 1000*ms {
		t.Errorf("Summarize = %+v", s)
	}
	if thousand[0] != 1000*ms {
		t.Error("Percentile sorted the caller's slice")
	}
}
