package web

import (
	"os/exec"
	"testing"
)

// TestJavaScriptModules runs the unit tests of the pure JavaScript modules
// (i18n, formatting, backoff, the ballot state machine, the socket) with
// node's built-in test runner. Skipped where node is not installed.
func TestJavaScriptModules(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	out, err := exec.Command(node, "--test", "jstest/").CombinedOutput()
	if err != nil {
		t.Fatalf("node --test: %v\n%s", err, out)
	}
}
