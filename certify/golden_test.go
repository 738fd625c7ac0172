package certify

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/votecast/votecast/schema"
)

var update = flag.Bool("update", false, "rewrite the golden file the browser's check is tested against")

// goldenPath is read by web/jstest/certificate.test.js: the browser's
// leaf, proof and signature checks must agree with this package's.
const goldenPath = "../web/jstest/testdata/certificate-golden.json"

type golden struct {
	Certificate Certificate  `json:"certificate"`
	Trees       []goldenTree `json:"trees"`
}

type goldenTree struct {
	Root     string    `json:"root"`
	Receipts []Receipt `json:"receipts"`
}

// TestBrowserGolden: the golden file is what this package makes of a
// fixed set of logs (every size to 12, votes, a close marker and an
// undecodable message). Run with -update after changing the tree, then
// the browser tests check the JavaScript against it.
func TestBrowserGolden(t *testing.T) {
	salt := []byte("golden-salt-0123")
	var g golden
	for size := 1; size <= 12; size++ {
		var entries []Entry
		for i := range size {
			ev := schema.Event{User: fmt.Sprintf("viewer-%d", i), ClientKey: "k", Option: i % 3, Count: 1}
			switch {
			case i == 5:
				ev = schema.Event{Close: true}
			}
			entries = append(entries, entryOf(salt, uint64(10+2*i), i%4, ev, i == 7))
		}
		tr := NewTree(schema.Poll{ID: "goldenpoll", Options: []string{"a", "b", "c"}, VotesPerUser: 1}, entries)
		gt := goldenTree{Root: tr.Root()}
		for _, e := range entries {
			r, err := tr.Receipt("goldenpoll", e.Seq)
			if err != nil {
				t.Fatal(err)
			}
			gt.Receipts = append(gt.Receipts, r)
		}
		g.Trees = append(g.Trees, gt)
	}
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	last := g.Trees[len(g.Trees)-1]
	c, err := Sign(key, Payload{Poll: "goldenpoll", Question: "Golden <&> 한국어 \u2028?", Options: []string{"a", "b", "c"}, VotesPerUser: 1,
		Totals: []int64{4, 3, 3}, Counted: 10, Entries: 12, FirstSeq: 10, LastSeq: 32, Root: last.Root,
		Salt: hex.EncodeToString(salt), SignedAt: time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	g.Certificate = c
	b, _ := json.MarshalIndent(g, "", " ")
	b = append(b, '\n')
	if *update {
		if err := os.WriteFile(goldenPath, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old, err := os.ReadFile(goldenPath)
	if err != nil || !bytes.Equal(old, b) {
		t.Fatalf("%s is not what this package makes (%v): go test ./certify -run BrowserGolden -update", goldenPath, err)
	}
}
