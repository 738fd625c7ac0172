package certify

import (
	"crypto/sha256"
	"math/bits"
)

// HashLeaf and hashNode are RFC 6962's leaf and interior hashes: the
// prefixes keep a leaf from passing for a node.
func HashLeaf(line []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(line)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

func hashNode(l, r [32]byte) [32]byte {
	var buf [65]byte
	buf[0] = 1
	copy(buf[1:], l[:])
	copy(buf[33:], r[:])
	return sha256.Sum256(buf[:])
}

// emptyRoot is the root of a tree without leaves (a poll nobody voted in).
var emptyRoot = sha256.Sum256(nil)

// split is the largest power of two below n (n >= 2): RFC 6962's cut
// between a tree's left and right subtrees.
func split(n int) int { return 1 << (bits.Len(uint(n-1)) - 1) }

// Root is the Merkle tree hash of the leaves, in order.
func Root(leaves [][32]byte) [32]byte {
	switch len(leaves) {
	case 0:
		return emptyRoot
	case 1:
		return leaves[0]
	}
	k := split(len(leaves))
	return hashNode(Root(leaves[:k]), Root(leaves[k:]))
}

// Proof is the inclusion proof of leaf i (RFC 6962 PATH): the sibling
// hashes from the leaf up to the root. It costs one pass over the leaves.
func Proof(leaves [][32]byte, i int) [][32]byte {
	if len(leaves) <= 1 {
		return nil
	}
	k := split(len(leaves))
	if i < k {
		return append(Proof(leaves[:k], i), Root(leaves[k:]))
	}
	return append(Proof(leaves[k:], i-k), Root(leaves[:k]))
}
