package loadgen

import (
	"bytes"
	"math"
	"testing"

	"github.com/google/pprof/profile"
)

func TestPartShares(t *testing.T) {
	cpu := &profile.ValueType{Type: "cpu", Unit: "nanoseconds"}
	fn := &profile.Function{ID: 1, Name: "f"}
	loc := &profile.Location{ID: 1, Line: []profile.Line{{Function: fn}}}
	jsFn := &profile.Function{ID: 2, Name: "github.com/nats-io/nats-server/v2/server.(*stream).internalLoop"}
	jsLoc := &profile.Location{ID: 2, Line: []profile.Line{{Function: jsFn}}}
	sample := func(ns int64, part string, stack ...*profile.Location) *profile.Sample {
		s := &profile.Sample{Location: append([]*profile.Location{loc}, stack...), Value: []int64{1, ns}}
		if part != "" {
			s.Label = map[string][]string{"part": {part}}
		}
		return s
	}
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, cpu},
		PeriodType: cpu, Period: 10_000_000,
		Sample:   []*profile.Sample{sample(50, "intake"), sample(20, "fold"), sample(10, "intake"), sample(10, ""), sample(10, "", jsLoc)},
		Location: []*profile.Location{loc, jsLoc}, Function: []*profile.Function{fn, jsFn},
	}
	var b bytes.Buffer
	if err := p.Write(&b); err != nil {
		t.Fatal(err)
	}
	got, err := partShares(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	// An unlabelled sample goes to the part its stack names, or "other".
	want := map[string]float64{"intake": 0.6, "fold": 0.2, "other": 0.1, "nats-server": 0.1}
	if len(got) != len(want) {
		t.Fatalf("shares %v, want %v", got, want)
	}
	for k, w := range want {
		if math.Abs(got[k]-w) > 1e-9 {
			t.Fatalf("shares %v, want %v", got, want)
		}
	}
	if _, err := partShares([]byte("not a profile")); err == nil {
		t.Fatal("a body that is not a profile was split into parts")
	}
}
