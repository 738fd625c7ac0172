package certify

import (
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/votecast/votecast/schema"
	"github.com/votecast/votecast/tally"
)

// Tree is a poll's export, its leaves and what the fold makes of it.
type Tree struct {
	Entries []Entry
	Leaves  [][32]byte
	Totals  []int64
	Counted int
	// Winners and Cutoff are a giveaway's (tally.PollShard.Winners).
	Winners int64
	Cutoff  uint64
}

// NewTree folds entries (in log order) under the poll's rules, as the
// tally did, and hashes them into leaves. The poll needs only its options
// and its rules.
func NewTree(poll schema.Poll, entries []Entry) *Tree {
	t := &Tree{Entries: entries, Leaves: make([][32]byte, len(entries)), Totals: make([]int64, len(poll.Options))}
	shards := map[int]*tally.PollShard{}
	for i, e := range entries {
		t.Leaves[i] = HashLeaf(e.Line())
		if e.Bad {
			continue
		}
		ps := shards[e.Shard]
		if ps == nil {
			ps = tally.NewPollShard(poll.ID, e.Shard, len(poll.Options))
			shards[e.Shard] = ps
		}
		if ps.Apply(&poll, e.Seq, e.event()) == tally.Counted {
			t.Counted++
		}
	}
	for _, ps := range shards {
		for i, c := range ps.Counts {
			t.Totals[i] += c
		}
		w, c := ps.Winners()
		t.Winners, t.Cutoff = t.Winners+w, max(t.Cutoff, c)
	}
	return t
}

// Root is the tree's root, hex.
func (t *Tree) Root() string {
	r := Root(t.Leaves)
	return hex.EncodeToString(r[:])
}

// Range is the first and last sequence the export covers (0, 0 if empty).
func (t *Tree) Range() (first, last uint64) {
	if len(t.Entries) == 0 {
		return 0, 0
	}
	return t.Entries[0].Seq, t.Entries[len(t.Entries)-1].Seq
}

// Receipt is what a viewer needs to check that the vote the log stored
// at Seq is in a certificate: the entry, its place among the leaves, the
// tree's size and the inclusion proof (hex, leaf to root).
type Receipt struct {
	Poll  string   `json:"poll"`
	Entry Entry    `json:"entry"`
	Index int      `json:"index"`
	Size  int      `json:"size"`
	Proof []string `json:"proof"`
}

// ErrNoEntry is returned for a receipt of a sequence the export lacks.
var ErrNoEntry = fmt.Errorf("no vote at that sequence in the certified log")

// Receipt builds the receipt of the entry at seq.
func (t *Tree) Receipt(poll string, seq uint64) (Receipt, error) {
	i, found := slices.BinarySearchFunc(t.Entries, seq, func(e Entry, s uint64) int {
		switch {
		case e.Seq < s:
			return -1
		case e.Seq > s:
			return 1
		}
		return 0
	})
	if !found {
		return Receipt{}, ErrNoEntry
	}
	proof := Proof(t.Leaves, i)
	r := Receipt{Poll: poll, Entry: t.Entries[i], Index: i, Size: len(t.Leaves), Proof: make([]string, len(proof))}
	for j, h := range proof {
		r.Proof[j] = hex.EncodeToString(h[:])
	}
	return r, nil
}
