package loadgen

import (
	"strings"
	"testing"

	"github.com/votecast/votecast/schema"
)

func TestParseTotal(t *testing.T) {
	tests := []struct {
		frame string
		want  int64
		ok    bool
	}{
		{string(schema.EncodeResults(schema.Totals{Poll: "p", State: schema.Open, Counts: []int64{3, 4}, Total: 7}, true)), 7, true},
		{string(schema.EncodeResults(schema.Totals{Poll: "p", State: schema.Open, Counts: []int64{0, 0}}, true)), 0, true},
		{string(schema.EncodeResults(schema.Totals{Poll: "p", State: schema.Open, Counts: []int64{3, 4}, Total: 7}, false)), 0, false},
		{`{"type":"results","total":1234567890123}`, 1234567890123, true},
		{`{"type":"results","total":}`, 0, false},
	}
	for _, tt := range tests {
		got, ok := parseTotal([]byte(tt.frame))
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseTotal(%s) = %d, %v; want %d, %v", tt.frame, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseProcess(t *testing.T) {
	text := `# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 12.34
process_max_fds 20000
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 1.2345678e+08
process_resident_memory_bytes_extra 1
go_goroutines 187
go_memstats_stack_inuse_bytes 3.407872e+06
go_memstats_heap_inuse_bytes 4.4204032e+07
`
	p, err := parseProcess(strings.NewReader(text))
	if err != nil || p.CPUSeconds != 12.34 || p.RSS != 123456780 || p.Goroutines != 187 || p.StackBytes != 3407872 || p.HeapBytes != 44204032 {
		t.Fatalf("parseProcess = %+v, %v", p, err)
	}
	if _, err := parseProcess(strings.NewReader("process_cpu_seconds_total 1\n")); err == nil {
		t.Fatal("parseProcess without RSS: no error")
	}
	if _, err := parseProcess(strings.NewReader("process_cpu_seconds_total x\nprocess_resident_memory_bytes 1\n")); err == nil {
		t.Fatal("parseProcess with a bad value: no error")
	}
}
