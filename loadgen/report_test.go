package loadgen

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestReportSummary(t *testing.T) {
	r := &Report{
		URL: "http://127.0.0.1:8080", Poll: "abcdefghij", Options: 2, Sources: 10,
		Viewers: 10000, Connected: 10003, ConnectSeconds: 5, ConnectsPerSecond: 2000.6,
		RSSBefore: 40 << 20, RSSIdle: 140 << 20, IdleBytesPerConn: 10483.2, IdleCPUPercent: 1.5,
		IdleGoroutinesPerConn: 2, IdleStackPerConn: 8192, IdleHeapPerConn: 1536,
		Votes: 10000, Statuses: map[string]int{"accepted": 9999, "unsent": 1}, Retries: 12, Accepted: 9999,
		VoteSeconds: 1.25, AcceptedPerSecond: 7999.2, SendRate: 50000,
		AckMS:    LatencyMS{P50: 10, P99: 45.5, P999: 60, Max: 61},
		AnswerMS: LatencyMS{P99: 300, Max: 900}, CPUPerVoteUS: 40, VoteDeliveries: 120000, VoteDeliveriesPerSecond: 96000,
		FinalTotalsMS: 180.25, FinalTotalsP50MS: 120, FanoutDeliveries: 20006, FanoutCPUPerDeliveryUS: 9.5,
		Probes: 3, ProbeLastViewerMS: []float64{150, 160.5, 170}, ProbeDeliveries: 30009, ProbeCPUPerDeliveryUS: 8.25,
		TallyDurableMS: 300, Expected: []int64{5000, 4999}, Counts: []int64{5000, 4999}, Exact: true,
	}
	r.fail("1 of 10000 votes were not accepted")
	var b bytes.Buffer
	r.WriteSummary(&b)
	out := b.String()
	for _, want := range []string{
		"10003/10003 connected in 5.0s (2001/s), 0 failed, 10 source addresses",
		"server RSS 40.0 MiB -> 140.0 MiB: 10.2 KiB per connection (2.0 goroutines, 8.0 KiB stack, 1.5 KiB heap in use)",
		"answers: 9999 accepted, 1 unsent; 12 retry answers resent",
		"accepted 7999 votes/s (9999 in 1.250s); ack p50 10.0 ms, p99 45.5 ms, p999 60.0 ms, max 61.0 ms",
		"meanwhile 120000 results frames delivered to viewers (96000/s)",
		"every viewer saw the final totals 180.2 ms after the last ack (median viewer 120.0 ms); 20006 deliveries, 9.5 µs server CPU each",
		"ack to last viewer: 150.0 / 160.5 / 170.0 ms; 30009 deliveries, 8.2 µs server CPU each",
		"totals    exact: results [5000 4999], accepted [5000 4999]",
		"FAIL      1 of 10000 votes were not accepted",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "RESULT {") {
		t.Fatalf("last line is not the RESULT line: %q", last)
	}
	var back Report
	if err := json.Unmarshal([]byte(strings.TrimPrefix(last, "RESULT ")), &back); err != nil {
		t.Fatal(err)
	}
	if back.AckMS.P99 != 45.5 || back.Accepted != 9999 || back.OK() || back.Statuses["unsent"] != 1 {
		t.Fatalf("RESULT round trip: %+v", back)
	}
}

func TestMilliseconds(t *testing.T) {
	if got := ms(1234567 * time.Nanosecond); got != 1.23 {
		t.Fatalf("ms = %v, want 1.23", got)
	}
}
