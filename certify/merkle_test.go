package certify

import (
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// The tree is RFC 6962's: its roots and proofs are checked against
// transparency-dev/merkle, an independent implementation, for every
// size up to 70 and every leaf.
func TestTreeMatchesRFC6962(t *testing.T) {
	hasher := rfc6962.DefaultHasher
	for size := 0; size <= 70; size++ {
		leaves := make([][32]byte, size)
		rf := (&compact.RangeFactory{Hash: hasher.HashChildren}).NewEmptyRange(0)
		for i := range leaves {
			data := []byte(fmt.Sprintf("leaf %d", i))
			leaves[i] = HashLeaf(data)
			if err := rf.Append(hasher.HashLeaf(data), nil); err != nil {
				t.Fatal(err)
			}
		}
		root := Root(leaves)
		want := hasher.EmptyRoot()
		if size > 0 {
			var err error
			if want, err = rf.GetRootHash(nil); err != nil {
				t.Fatal(err)
			}
		}
		if string(root[:]) != string(want) {
			t.Fatalf("size %d: root %x, RFC 6962 says %x", size, root, want)
		}
		for i := range leaves {
			var path [][]byte
			for _, h := range Proof(leaves, i) {
				path = append(path, h[:])
			}
			if err := proof.VerifyInclusion(hasher, uint64(i), uint64(size), leaves[i][:], path, root[:]); err != nil {
				t.Fatalf("size %d, leaf %d: %v", size, i, err)
			}
		}
	}
}

func TestEmptyRoot(t *testing.T) {
	if r := Root(nil); r != sha256.Sum256(nil) {
		t.Fatalf("empty root %x", r)
	}
}

func BenchmarkProof(b *testing.B) {
	leaves := make([][32]byte, 100_000)
	for i := range leaves {
		leaves[i] = HashLeaf([]byte(fmt.Sprint(i)))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Proof(leaves, i%len(leaves))
	}
}
