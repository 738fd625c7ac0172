package loadgen

import (
	"strings"
	"testing"

	"github.com/votecast/votecast/schema"
)

func TestParseFrame(t *testing.T) {
	total := func(n int64) *int64 { return &n }
	tests := []struct {
		frame    string
		ok       bool
		typ      string
		total    *int64
		soldOut  bool
		cutoff   uint64
		ackState string
	}{
		{string(schema.EncodeResults(schema.Totals{Poll: "p", State: schema.Open, Counts: []int64{3, 4}, Total: 7}, true)), true, "results", total(7), false, 0, ""},
		{string(schema.EncodeResults(schema.Totals{Poll: "p", State: schema.Open, Counts: []int64{0, 0}}, true)), true, "results", total(0), false, 0, ""},
		// Hidden results carry no total.
		{string(schema.EncodeResults(schema.Totals{Poll: "p", State: schema.Open, Counts: []int64{3, 4}, Total: 7}, false)), true, "results", nil, false, 0, ""},
		// Key order is the server's business: a scan for `"type":"results"` would miss this.
		{`{"total":1234567890123, "type" : "results"}`, true, "results", total(1234567890123), false, 0, ""},
		{`{"type":"results","poll":"g","giveaway":{"prizes":2,"winners":2,"left":0,"sold_out":true,"cutoff":42},"total":9}`, true, "results", total(9), true, 42, ""},
		{`{"type":"ack","id":"v","status":"retry","reason":"vote log slow","retry_after_ms":700}`, true, "ack", nil, false, 0, "retry"},
		// A field named like a type inside another value is not a type.
		{`{"type":"ack","id":"v","status":"rejected","reason":"\"type\":\"results\""}`, true, "ack", nil, false, 0, "rejected"},
		{`{"type":"results","total":}`, false, "", nil, false, 0, ""},
		{`{"total":3}`, false, "", nil, false, 0, ""},
		{`not json`, false, "", nil, false, 0, ""},
	}
	for _, tt := range tests {
		f, ok := parseFrame([]byte(tt.frame))
		if ok != tt.ok || f.Type != tt.typ || (f.Total == nil) != (tt.total == nil) || f.Total != nil && *f.Total != *tt.total || f.Status != tt.ackState {
			t.Errorf("parseFrame(%s) = %+v, %v", tt.frame, f, ok)
			continue
		}
		if tt.soldOut && (f.Giveaway == nil || !f.Giveaway.SoldOut || f.Giveaway.Cutoff != tt.cutoff) {
			t.Errorf("parseFrame(%s): giveaway %+v", tt.frame, f.Giveaway)
		}
	}
}

// FuzzParseFrame: any bytes the server (or a proxy) might send are a
// frame or not, never a panic.
func FuzzParseFrame(f *testing.F) {
	f.Add([]byte(`{"type":"results","total":7,"counts":[3,4]}`))
	f.Add([]byte(`{"type":"ack","id":"v","status":"accepted","seq":12}`))
	f.Add([]byte(`{"type":"results","giveaway":{"sold_out":true,"cutoff":1}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if fr, ok := parseFrame(b); ok && fr.Type == "" {
			t.Fatalf("ok without a type: %q", b)
		}
	})
}

// BenchmarkParseFrame: every results frame to every viewer goes through
// it, on the machine that also runs the server under load.
func BenchmarkParseFrame(b *testing.B) {
	frame := schema.EncodeResults(schema.Totals{Poll: "p", State: schema.Open, Counts: []int64{3, 4, 5, 6}, Total: 18}, true)
	b.ReportAllocs()
	for range b.N {
		if _, ok := parseFrame(frame); !ok {
			b.Fatal("not parsed")
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

// FuzzParseProcess: whatever /metrics answers, an error or figures.
func FuzzParseProcess(f *testing.F) {
	f.Add("process_cpu_seconds_total 1\nprocess_resident_memory_bytes 2\n")
	f.Add("# TYPE go_goroutines gauge\ngo_goroutines 3\n")
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = parseProcess(strings.NewReader(s))
	})
}
