package preflight

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// LoadFigures are the figures of a `votecast load` run preflight reads
// from its --report file (the RESULT JSON).
type LoadFigures struct {
	At                time.Time `json:"at"`
	URL               string    `json:"url"`
	Viewers           int       `json:"viewers"`
	Connected         int       `json:"connected"`
	AcceptedPerSecond float64   `json:"accepted_per_s"`
	AckMS             struct {
		P99 float64 `json:"p99"`
	} `json:"ack_ms"`
	IdleBytesPerConn float64  `json:"idle_bytes_per_conn"`
	Exact            bool     `json:"exact"`
	Failures         []string `json:"failures"`
}

// LoadRun is the load run on record: Report, or why there is none.
type LoadRun struct {
	Path   string       `json:"path"`
	Report *LoadFigures `json:"report,omitempty"`
	Err    string       `json:"error,omitempty"`
	// Missing: no file at Path, which is a warning, not a failure.
	Missing bool `json:"missing,omitempty"`
}

const loadTodo = "run votecast load --report FILE against a staging node (or preflight --load)"

// ReadLoad reads the report of a load run.
func ReadLoad(path string) LoadRun {
	run := LoadRun{Path: path}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		run.Missing, run.Err = true, fmt.Sprintf("no load report at %s", path)
		return run
	}
	if err != nil {
		run.Err = fmt.Sprintf("read load report: %v", err)
		return run
	}
	var f LoadFigures
	if err := json.Unmarshal(b, &f); err != nil {
		run.Err = fmt.Sprintf("read load report %s: %v", path, err)
		return run
	}
	run.Report = &f
	return run
}

// loadStale is when a measurement stops speaking for today's build.
const loadStale = 7 * 24 * time.Hour

func loadItem(run LoadRun, now time.Time) Item {
	it := Item{Item: "load test done", State: OK}
	r := run.Report
	switch {
	case r == nil && run.Missing:
		it.State, it.Figure, it.Todo = Warn, run.Err, loadTodo
		return it
	case r == nil:
		it.State, it.Figure, it.Todo = Fail, run.Err, loadTodo
		return it
	}
	it.Figure = fmt.Sprintf("%s viewers, %s accepted/s, ack p99 %s ms, against %s", num(float64(r.Connected)),
		num(r.AcceptedPerSecond), num(r.AckMS.P99), r.URL)
	if !r.At.IsZero() {
		it.Figure += ", " + r.At.UTC().Format("2006-01-02 15:04 UTC")
	}
	switch {
	case !r.Exact || len(r.Failures) > 0:
		it.State, it.Todo = Fail, fmt.Sprintf("the last run failed its checks (%v): fix that before air", r.Failures)
	case r.At.IsZero() || now.Sub(r.At) > loadStale:
		it.State, it.Todo = Warn, "the run is over a week old or undated: "+loadTodo
	}
	return it
}
