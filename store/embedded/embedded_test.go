package embedded_test

import (
	"testing"

	"github.com/votecast/votecast/store/embedded"
	"github.com/votecast/votecast/store/storetest"
	"github.com/votecast/votecast/tally"
)

func TestStoreSuite(t *testing.T) {
	dirs := map[string]string{} // each subtest's directory, so a reopen finds its data
	storetest.Run(t, func(t *testing.T, fresh bool) tally.Store {
		dir, ok := dirs[t.Name()]
		if fresh || !ok {
			dir = t.TempDir()
			dirs[t.Name()] = dir
		}
		s, err := embedded.Open(embedded.Options{Dir: dir})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
