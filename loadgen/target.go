package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/votecast/votecast/schema"
)

// target is the server under load, as the producer API and /metrics show it.
type target struct {
	base  string
	token string
	hc    *http.Client
}

func (t *target) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, t.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+t.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := t.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(b)))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}

// openPoll creates and opens a poll with n options and live results.
func (t *target) openPoll(ctx context.Context, n int) (schema.Poll, error) {
	return t.open(ctx, schema.PollSpec{Question: "votecast load: which one?"}, n)
}

// open creates a poll from spec with n options and live results, and
// opens it.
func (t *target) open(ctx context.Context, spec schema.PollSpec, n int) (schema.Poll, error) {
	spec.Results = schema.ResultsLive
	for i := range n {
		spec.Options = append(spec.Options, "option "+strconv.Itoa(i+1))
	}
	var p schema.Poll
	if err := t.do(ctx, "POST", "/api/polls", spec, &p); err != nil {
		return p, fmt.Errorf("create poll: %w", err)
	}
	if err := t.do(ctx, "POST", "/api/polls/"+p.ID+"/open", nil, &p); err != nil {
		return p, fmt.Errorf("open poll: %w", err)
	}
	return p, nil
}

func (t *target) poll(ctx context.Context, id string) (schema.Poll, error) {
	var p schema.Poll
	err := t.do(ctx, "GET", "/api/polls/"+id, nil, &p)
	return p, err
}

func (t *target) results(ctx context.Context, id string) (schema.Totals, error) {
	var tot schema.Totals
	err := t.do(ctx, "GET", "/api/polls/"+id+"/results", nil, &tot)
	return tot, err
}

// tallyPending is the number of events the tally has not yet made durable.
func (t *target) tallyPending(ctx context.Context) (uint64, error) {
	var st struct {
		TallyPending uint64 `json:"tally_pending"`
	}
	err := t.do(ctx, "GET", "/api/stats", nil, &st)
	return st.TallyPending, err
}

// process is the server's resource use as its Prometheus process and Go
// collectors report it. The Go runtime gauges are optional (zero when
// missing); they split the memory of idle connections into stacks and heap.
type process struct {
	RSS        int64   // bytes
	CPUSeconds float64 // user + system since start
	Goroutines int64
	StackBytes int64 // go_memstats_stack_inuse_bytes
	HeapBytes  int64 // go_memstats_heap_inuse_bytes
}

// process reads /metrics.
func (t *target) process(ctx context.Context) (process, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", t.base+"/metrics", nil)
	if err != nil {
		return process{}, err
	}
	resp, err := t.hc.Do(req)
	if err != nil {
		return process{}, fmt.Errorf("read /metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return process{}, fmt.Errorf("read /metrics: %s", resp.Status)
	}
	return parseProcess(resp.Body)
}

// parseProcess reads the gauges it needs from the Prometheus text format
// (expfmt, the format's own parser); RSS and CPU must be there.
func parseProcess(r io.Reader) (process, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(io.LimitReader(r, 16<<20))
	if err != nil {
		return process{}, fmt.Errorf("read /metrics: %w", err)
	}
	value := func(name string) (float64, bool) {
		f := fams[name]
		if f == nil || len(f.GetMetric()) == 0 {
			return 0, false
		}
		m := f.GetMetric()[0]
		switch {
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue(), true
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue(), true
		case m.GetUntyped() != nil:
			return m.GetUntyped().GetValue(), true
		}
		return 0, false
	}
	var p process
	rss, okRSS := value("process_resident_memory_bytes")
	cpu, okCPU := value("process_cpu_seconds_total")
	if !okRSS || !okCPU {
		return p, fmt.Errorf("read /metrics: process_resident_memory_bytes or process_cpu_seconds_total missing (is the process collector registered?)")
	}
	p.RSS, p.CPUSeconds = int64(rss), cpu
	for name, dst := range map[string]*int64{
		"go_goroutines": &p.Goroutines, "go_memstats_stack_inuse_bytes": &p.StackBytes, "go_memstats_heap_inuse_bytes": &p.HeapBytes,
	} {
		if v, ok := value(name); ok {
			*dst = int64(v)
		}
	}
	return p, nil
}
