package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// goRuntime is the server's Go runtime as its Prometheus endpoint shows
// it, the gauges votecast load splits votecast's idle memory with: RSS
// alone does not say whether a connection's cost is goroutine stacks or
// heap.
type goRuntime struct {
	Goroutines int64
	StackBytes int64 // go_memstats_stack_inuse_bytes
	HeapBytes  int64 // go_memstats_heap_inuse_bytes
}

func readGoRuntime(ctx context.Context, hc *http.Client, url string) (goRuntime, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return goRuntime{}, fmt.Errorf("read %s: %w", url, err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return goRuntime{}, fmt.Errorf("read %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return goRuntime{}, fmt.Errorf("read %s: %s", url, resp.Status)
	}
	g, err := parseGoRuntime(resp.Body)
	if err != nil {
		return g, fmt.Errorf("read %s: %w", url, err)
	}
	return g, nil
}

// parseGoRuntime picks the three gauges out of the Prometheus text
// format; all three must be there.
func parseGoRuntime(r io.Reader) (goRuntime, error) {
	var g goRuntime
	var seen int
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		var dst *int64
		switch {
		case !ok:
			continue
		case name == "go_goroutines":
			dst, seen = &g.Goroutines, seen|1
		case name == "go_memstats_stack_inuse_bytes":
			dst, seen = &g.StackBytes, seen|2
		case name == "go_memstats_heap_inuse_bytes":
			dst, seen = &g.HeapBytes, seen|4
		default:
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			return g, fmt.Errorf("%s: %w", name, err)
		}
		*dst = int64(f)
	}
	if err := sc.Err(); err != nil {
		return g, err
	}
	if seen != 7 {
		return g, fmt.Errorf("go_goroutines, go_memstats_stack_inuse_bytes or go_memstats_heap_inuse_bytes missing")
	}
	return g, nil
}
