package loadgen

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/votecast/votecast/internal/await"
)

// syncBuffer is written by the progress goroutine and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestProgress: on a terminal the phase's line is drawn over in place and
// left on screen at the end; elsewhere (a log file, CI) it is a line each
// time.
func TestProgress(t *testing.T) {
	for _, tc := range []struct {
		name   string
		redraw bool
		draw   string // what each update starts with
		end    string // how the output ends
	}{
		{"terminal", true, "\r\033[Kvote: n=", "\n"},
		{"log", false, "vote: n=", "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf syncBuffer
			r := &run{cfg: Config{Progress: &buf, Redraw: tc.redraw}}
			n := 0
			var mu sync.Mutex
			stop := r.progress("vote", func() string {
				mu.Lock()
				defer mu.Unlock()
				n++
				return "n=" + strings.Repeat("x", n)
			})
			await.For(t, 10*time.Second, func() string {
				if c := strings.Count(buf.String(), tc.draw); c < 2 {
					return "fewer than two updates"
				}
				return ""
			})
			stop()
			out := buf.String()
			if !strings.HasSuffix(out, tc.end) {
				t.Fatalf("output %q does not end with %q", out, tc.end)
			}
			lines := strings.Count(out, "\n")
			if tc.redraw && lines != 1 {
				t.Fatalf("a terminal got %d lines, want the one left at the end: %q", lines, out)
			}
			if !tc.redraw && (lines < 2 || strings.Contains(out, "\r")) {
				t.Fatalf("a log got %d lines: %q", lines, out)
			}
		})
	}
}
