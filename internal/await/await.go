// Package await is the one way tests wait for a condition: poll it until a
// deadline, and fail the test, naming what was awaited, when the deadline
// passes. Tests never sleep in place of synchronisation; they await.
//
// Until and For must run on the test's own goroutine (they call Fatal);
// Within only reports, so it is safe from any goroutine.
package await

import (
	"testing"
	"time"
)

// pollEvery is how often a condition is tried again.
const pollEvery = 5 * time.Millisecond

// Within reports whether cond became true before timeout.
func Within(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pollEvery) // polling a condition, with a deadline
	}
}

// Until fails the test unless cond becomes true before timeout; what says
// what was awaited, for the failure message.
func Until(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	if !Within(timeout, cond) {
		tb.Fatalf("%s: still not so after %v", what, timeout)
	}
}

// For is Until for a condition that explains itself: check returns "" when
// it holds, or what is still wrong, which the failure message quotes.
func For(tb testing.TB, timeout time.Duration, check func() string) {
	tb.Helper()
	var last string
	if !Within(timeout, func() bool { last = check(); return last == "" }) {
		tb.Fatalf("%s (after %v)", last, timeout)
	}
}
