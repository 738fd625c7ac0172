package deploy

import "testing"

// preflight asks Prometheus for these by name: the list must come out of
// the file whole.
func TestAlertNames(t *testing.T) {
	names, err := AlertNames()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			t.Errorf("alert %s is defined twice", n)
		}
		seen[n] = true
	}
	for _, want := range []string{"VotecastAckLatencyHigh", "VotecastLogNoLeader", "VotecastShardUnread"} {
		if !seen[want] {
			t.Errorf("alert %s missing from %v", want, names)
		}
	}
}
