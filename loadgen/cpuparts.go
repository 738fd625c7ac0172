package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/google/pprof/profile"

	"github.com/votecast/votecast/internal/parts"
)

// cpuProfile takes the server's CPU profile around the spike through its
// debug listener (serve --debug-listen), for the split of the CPU per vote
// into the parts of the vote path.
type cpuProfile struct {
	base string
	hc   *http.Client
}

func (c cpuProfile) start(ctx context.Context) error {
	_, err := c.post(ctx, "/debug/votecast/cpu/start")
	return err
}

func (c cpuProfile) stop(ctx context.Context) ([]byte, error) {
	return c.post(ctx, "/debug/votecast/cpu/stop")
}

func (c cpuProfile) post(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, nil)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 128<<20))
	if err != nil {
		return nil, fmt.Errorf("cpu profile: read %s: %w", path, err)
	}
	if res.StatusCode/100 != 2 {
		return nil, fmt.Errorf("cpu profile: %s: %s: %s", path, res.Status, bytes.TrimSpace(body))
	}
	return body, nil
}

// partShares splits a CPU profile by the part label of its samples: each
// part's share of the CPU time sampled. A sample without a label comes
// from a goroutine a library started on its own (the JetStream stream's
// loop, Pebble's log writer, the garbage collector): it goes to the part
// its stack names (unlabelledPart), or else to "other".
func partShares(raw []byte) (map[string]float64, error) {
	p, err := profile.Parse(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	idx := -1
	for i, st := range p.SampleType {
		if st.Type == "cpu" {
			idx = i
		}
	}
	if idx < 0 {
		return nil, fmt.Errorf("cpu profile: no cpu samples")
	}
	byPart := map[string]int64{}
	var total int64
	for _, s := range p.Sample {
		part := unlabelledPart(s)
		if l := s.Label[parts.Label]; len(l) > 0 {
			part = l[0]
		}
		byPart[part] += s.Value[idx]
		total += s.Value[idx]
	}
	out := make(map[string]float64, len(byPart))
	if total == 0 {
		return out, nil
	}
	for k, v := range byPart {
		out[k] = float64(v) / float64(total)
	}
	return out, nil
}

// profileSpike stops the profile started before the spike, writes it
// where asked and splits the CPU per vote by part.
func (r *run) profileSpike(ctx context.Context, cp cpuProfile) {
	raw, err := cp.stop(ctx)
	if err != nil {
		r.rep.fail("%v", err)
		return
	}
	if r.cfg.ProfileOut != "" {
		if err := os.WriteFile(r.cfg.ProfileOut, raw, 0o644); err != nil {
			r.rep.fail("write the cpu profile: %v", err)
		}
	}
	shares, err := partShares(raw)
	if err != nil {
		r.rep.fail("%v", err)
		return
	}
	r.rep.CPUParts = make(map[string]float64, len(shares))
	for k, s := range shares {
		r.rep.CPUParts[k] = s * r.rep.CPUPerVoteUS
	}
}

// stackParts name the part of an unlabelled sample by a function on its
// stack, first match wins.
var stackParts = []struct{ prefix, part string }{
	{"github.com/nats-io/nats-server/", parts.NATSServer},
	{"github.com/cockroachdb/pebble", parts.Flush},
	{"github.com/nats-io/nats.go", parts.NATSClient},
	{"runtime.gcBgMarkWorker", "gc"},
	{"runtime.bgsweep", "gc"},
	{"runtime.bgscavenge", "gc"},
}

func unlabelledPart(s *profile.Sample) string {
	for _, sp := range stackParts {
		for _, loc := range s.Location {
			for _, l := range loc.Line {
				if l.Function != nil && strings.HasPrefix(l.Function.Name, sp.prefix) {
					return sp.part
				}
			}
		}
	}
	return "other"
}
