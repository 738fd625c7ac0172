package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"
)

// Report is what a run measured. Durations are in milliseconds, CPU in
// microseconds, memory in bytes; a zero figure was not measured.
type Report struct {
	At      time.Time `json:"at"` // when the run started
	URL     string    `json:"url"`
	Poll    string    `json:"poll"`     // the first poll
	Polls   int       `json:"polls"`    // polls open at once, viewers spread over them
	PollIDs []string  `json:"poll_ids"` // viewer i is in PollIDs[i mod Polls]
	Options int       `json:"options"`
	Sources int       `json:"sources"`

	// Connect phase: Viewers voters plus Probes probe viewers.
	Viewers           int     `json:"viewers"`
	Connected         int     `json:"connected"`
	ConnectFailures   int     `json:"connect_failures"`
	ConnectSeconds    float64 `json:"connect_s"`
	ConnectsPerSecond float64 `json:"connects_per_s"`

	// Idle phase: server memory growth over the connections.
	RSSBefore        int64   `json:"rss_before_bytes"`
	RSSIdle          int64   `json:"rss_idle_bytes"`
	IdleBytesPerConn float64 `json:"idle_bytes_per_conn"`
	IdleCPUPercent   float64 `json:"idle_cpu_percent"` // of one core
	// Where the idle memory went, per connection, from the Go runtime.
	IdleGoroutinesPerConn float64 `json:"idle_goroutines_per_conn"`
	IdleStackPerConn      float64 `json:"idle_stack_bytes_per_conn"`
	IdleHeapPerConn       float64 `json:"idle_heap_bytes_per_conn"`

	// Vote phase.
	TargetRate        float64        `json:"target_rate"` // 0: all at once
	SendRate          float64        `json:"send_rate"`   // first sends per second, achieved
	Votes             int            `json:"votes"`
	Statuses          map[string]int `json:"statuses"` // final answers
	Retries           int            `json:"retries"`  // retry answers, each resent
	Accepted          int            `json:"accepted"`
	VoteSeconds       float64        `json:"vote_s"` // first send to last ack
	AcceptedPerSecond float64        `json:"accepted_per_s"`
	AckMS             LatencyMS      `json:"ack_ms"`    // last send to final answer
	AnswerMS          LatencyMS      `json:"answer_ms"` // first send to final answer, retries included
	CPUPerVoteUS      float64        `json:"cpu_us_per_vote"`
	// CPUParts splits CPUPerVoteUS by part of the vote path (pprof labels
	// of the server's goroutines; see internal/parts), with Config.ProfileURL.
	CPUParts map[string]float64 `json:"cpu_parts_us_per_vote,omitempty"`
	// Timeline is the vote phase in steps of 100ms, for a chart.
	Timeline []TimelinePoint `json:"timeline,omitempty"`
	// Results frames the viewers received while the votes were answered:
	// live totals compete with the votes for the server's CPU.
	VoteDeliveries          int64   `json:"vote_deliveries"`
	VoteDeliveriesPerSecond float64 `json:"vote_deliveries_per_s"`
	EventBytes              int     `json:"event_bytes"` // a vote event in the log

	// Fan-out after the spike: the exact final totals reach every viewer.
	FinalTotalsMS          float64 `json:"final_totals_ms"` // last ack to the last viewer
	FinalTotalsP50MS       float64 `json:"final_totals_p50_ms"`
	FanoutDeliveries       int64   `json:"fanout_deliveries"`
	FanoutCPUPerDeliveryUS float64 `json:"fanout_cpu_us_per_delivery"`

	// Probes: single votes on a quiet server, one frame to every viewer.
	Probes                int       `json:"probes"`
	ProbeLastViewerMS     []float64 `json:"probe_last_viewer_ms"` // per probe: its ack to the last viewer
	ProbeDeliveries       int64     `json:"probe_deliveries"`
	ProbeCPUPerDeliveryUS float64   `json:"probe_cpu_us_per_delivery"`

	// The waiting room: voters the server sent to the line at connect.
	// They vote from it over HTTP with their ticket during the spike;
	// after the probes, the viewers let in at first leave and those in
	// line connect in the order of their places.
	Queued                 int       `json:"queued"`
	ProbesSkipped          int       `json:"probes_skipped"`      // probe viewers the node had no room for
	QueueEarlyRefused      int       `json:"queue_early_refused"` // tries before their turn, refused 429
	QueueAdmitted          int       `json:"queue_admitted"`      // let in, shown the exact final totals
	QueueDrainSeconds      float64   `json:"queue_drain_s"`
	QueueAdmittedPerSecond float64   `json:"queue_admitted_per_s"`
	QueueRate              float64   `json:"queue_rate"`               // the admission rate set
	QueueLastCountedMS     float64   `json:"queue_last_counted_ms"`    // the spike's first send to the last in line shown the final totals
	AdmittedAckMS          LatencyMS `json:"admitted_ack_ms,omitzero"` // acks of the voters with a socket
	QueuedAckMS            LatencyMS `json:"queued_ack_ms,omitzero"`   // answers to votes from the line

	// Giveaway is set on a giveaway run (Config.Giveaway).
	Giveaway *GiveawayReport `json:"giveaway,omitempty"`

	TallyDurableMS float64  `json:"tally_durable_ms"` // last ack to no events pending in the tally
	Expected       []int64  `json:"expected"`         // accepted votes per option (plus the poll's earlier counts)
	Counts         []int64  `json:"counts"`           // GET /api/polls/{id}/results
	Exact          bool     `json:"exact"`
	Failures       []string `json:"failures"`
}

// LatencyMS is a latency distribution in milliseconds.
type LatencyMS struct {
	P50  float64 `json:"p50"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
}

func latencyMS(l *Latencies) LatencyMS {
	s := l.Summarize()
	return LatencyMS{P50: ms(s.P50), P99: ms(s.P99), P999: ms(s.P999), Max: ms(s.Max)}
}

// ms rounds to 0.01 ms.
func ms(d time.Duration) float64 { return float64(d.Microseconds()/10) / 100 }

func (r *Report) fail(format string, args ...any) {
	r.Failures = append(r.Failures, fmt.Sprintf(format, args...))
}

// OK reports whether every check passed.
func (r *Report) OK() bool { return len(r.Failures) == 0 }

// WriteFile writes the report as JSON (what the RESULT line holds), for
// votecast preflight to hold the limits against; through a temporary
// file, so a reader never sees half of it.
func (r *Report) WriteFile(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("write load report: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write load report: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write load report: %w", err)
	}
	return nil
}

// ResultLine is the machine-readable line: "RESULT " and the report as
// one line of JSON.
func (r *Report) ResultLine() string {
	b, _ := json.Marshal(r) // plain fields always marshal
	return "RESULT " + string(b)
}

// WriteSummary writes the human-readable summary and then the RESULT line.
func (r *Report) WriteSummary(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	if r.Polls > 1 {
		p("votecast load: %d viewers over %d polls (the first %s) at %s", r.Viewers, r.Polls, r.Poll, r.URL)
	} else {
		p("votecast load: %d viewers on poll %s at %s", r.Viewers, r.Poll, r.URL)
	}
	p("  connect   %d/%d connected in %.1fs (%.0f/s), %d failed, %d source addresses",
		r.Connected, r.Viewers+r.Probes, r.ConnectSeconds, r.ConnectsPerSecond, r.ConnectFailures, r.Sources)
	if r.RSSIdle > 0 {
		p("  idle      server RSS %s -> %s: %.1f KiB per connection (%.1f goroutines, %.1f KiB stack, %.1f KiB heap in use); idle CPU %.1f%% of a core",
			mib(r.RSSBefore), mib(r.RSSIdle), r.IdleBytesPerConn/1024, r.IdleGoroutinesPerConn,
			r.IdleStackPerConn/1024, r.IdleHeapPerConn/1024, r.IdleCPUPercent)
	}
	if r.Votes > 0 {
		how := "all at once"
		if r.TargetRate > 0 {
			how = fmt.Sprintf("at a target of %.0f/s", r.TargetRate)
		}
		p("  votes     %d sent %s (achieved %.0f/s); answers: %s; %d retry answers resent",
			r.Votes, how, r.SendRate, statusList(r.Statuses), r.Retries)
		p("            accepted %.0f votes/s (%d in %.3fs); ack p50 %.1f ms, p99 %.1f ms, p999 %.1f ms, max %.1f ms",
			r.AcceptedPerSecond, r.Accepted, r.VoteSeconds, r.AckMS.P50, r.AckMS.P99, r.AckMS.P999, r.AckMS.Max)
		p("            first send to final answer (retries included) p99 %.1f ms, max %.1f ms; server CPU %.1f µs per accepted vote",
			r.AnswerMS.P99, r.AnswerMS.Max, r.CPUPerVoteUS)
		p("            meanwhile %d results frames delivered to viewers (%.0f/s)", r.VoteDeliveries, r.VoteDeliveriesPerSecond)
		if len(r.CPUParts) > 0 {
			p("            server CPU per vote by part (µs): %s", partList(r.CPUParts))
		}
	}
	if r.FanoutDeliveries > 0 {
		p("  fan-out   every viewer saw the final totals %.1f ms after the last ack (median viewer %.1f ms); %d deliveries, %.1f µs server CPU each",
			r.FinalTotalsMS, r.FinalTotalsP50MS, r.FanoutDeliveries, r.FanoutCPUPerDeliveryUS)
	}
	if len(r.ProbeLastViewerMS) > 0 {
		p("  probes    %d single votes, ack to last viewer: %s ms; %d deliveries, %.1f µs server CPU each",
			len(r.ProbeLastViewerMS), joinFloats(r.ProbeLastViewerMS), r.ProbeDeliveries, r.ProbeCPUPerDeliveryUS)
	}
	if r.Queued > 0 {
		p("  line      %d voters sent to the waiting room (and %d probe viewers, skipped); they voted from it: answer p50 %.1f ms, p99 %.1f ms (with a socket: ack p99 %.1f ms)",
			r.Queued, r.ProbesSkipped, r.QueuedAckMS.P50, r.QueuedAckMS.P99, r.AdmittedAckMS.P99)
		p("            %d let in by place and shown the exact final totals in %.1fs (%.0f/s, rate set %.0f/s); the last %.0f ms after \"vote now\"; %d tries before their turn refused",
			r.QueueAdmitted, r.QueueDrainSeconds, r.QueueAdmittedPerSecond, r.QueueRate, r.QueueLastCountedMS, r.QueueEarlyRefused)
	}
	if g := r.Giveaway; g != nil {
		p("  giveaway  %d prizes, %d entries: %d won (receipts up to %d), %d lost, %d winners sent after the first loser; every entrant shown sold out %.1f ms after the last prize's answer; outcome asked %d times, %d claim codes",
			g.Prizes, g.Entries, g.Winners, g.Cutoff, g.Lost, g.LateWinners, g.ToldMS, g.Checked, g.Claims)
	}
	if r.TallyDurableMS > 0 {
		p("  tally     nothing pending %.0f ms after the last ack", r.TallyDurableMS)
	}
	if r.Counts != nil {
		verdict := "exact"
		if !r.Exact {
			verdict = "MISMATCH"
		}
		p("  totals    %s: results %v, accepted %v", verdict, r.Counts, r.Expected)
	}
	for _, f := range r.Failures {
		p("  FAIL      %s", f)
	}
	p("%s", r.ResultLine())
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func statusList(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%d %s", m[k], k))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func joinFloats(fs []float64) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = fmt.Sprintf("%.1f", f)
	}
	return strings.Join(parts, " / ")
}

// partList is "fold 3.1, intake 20.4, ..." from the largest part down.
func partList(m map[string]float64) string {
	keys := slices.SortedFunc(maps.Keys(m), func(a, b string) int {
		if m[a] != m[b] {
			if m[a] > m[b] {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = fmt.Sprintf("%s %.1f", k, m[k])
	}
	return strings.Join(out, ", ")
}
