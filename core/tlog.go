package core

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/tlog"
)

// The ledger is also an RFC 6962 Merkle tree (golang.org/x/mod/sumdb/tlog):
// leaf i (0-based) is the stored bytes of ledger entry seq i+1, v1 and v2
// alike. Its stored hashes (about two per entry: the leaf hash and the
// hashes of the subtrees that leaf completes) live in bucket "tlog",
// keyed by tlog.StoredHashIndex as 8 bytes big-endian, value 32 bytes.
// They are written in the same transaction as the entry, so the tree
// always has exactly as many leaves as the ledger has entries. Keys grow
// in append order, so a cursor over the bucket meets the stored hashes in
// the order they were written (the full verification relies on it).

var bTlog = []byte("tlog")

// emptyTree is the RFC 6962 hash of the empty tree (SHA-256 of nothing).
var emptyTree = tlog.Hash(sha256.Sum256(nil))

// txHashes reads stored hashes from a transaction.
type txHashes struct{ b *bolt.Bucket }

func (r txHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		v := r.b.Get(be64(uint64(x)))
		if len(v) != tlog.HashSize {
			return nil, fmt.Errorf("%w: ledger tree hash %d is missing or malformed", ErrInvalid, x)
		}
		copy(out[i][:], v)
	}
	return out, nil
}

func hashReader(tx *bolt.Tx) txHashes { return txHashes{tx.Bucket(bTlog)} }

// tlogAppend stores the hashes that leaf n (0-based) adds to the tree.
func tlogAppend(tx *bolt.Tx, n int64, leaf []byte) error {
	r := hashReader(tx)
	hs, err := tlog.StoredHashes(n, leaf, r)
	if err != nil {
		return fmt.Errorf("ledger tree: %w", err)
	}
	r.b.FillPercent = 1 // append-only, sequential keys
	at := tlog.StoredHashIndex(0, n)
	for i, h := range hs {
		if err := r.b.Put(be64(uint64(at+int64(i))), h[:]); err != nil {
			return fmt.Errorf("ledger tree: %w", err)
		}
	}
	return nil
}

// treeHash is the root of the tree of the first n entries, from stored
// hashes (at most 1 + log₂ n reads).
func treeHash(tx *bolt.Tx, n uint64) (tlog.Hash, error) {
	return tlog.TreeHash(int64(n), hashReader(tx))
}

// frontier is the right edge of a Merkle tree being rebuilt from its
// leaves: the roots of its complete subtrees, largest first. Appending a
// leaf yields exactly the hashes tlog.StoredHashes would store for it, so
// a verifier can rebuild the tree in one pass without reading anything
// it has not checked.
type frontier struct {
	n     int64 // leaves so far
	nodes []tlog.Hash
}

// add appends a leaf and returns the stored hashes it produces (valid
// until the next call).
func (f *frontier) add(leaf []byte, out []tlog.Hash) []tlog.Hash {
	h := tlog.RecordHash(leaf)
	out = append(out[:0], h)
	for m := f.n; m&1 == 1; m >>= 1 {
		h = tlog.NodeHash(f.nodes[len(f.nodes)-1], h)
		f.nodes = f.nodes[:len(f.nodes)-1]
		out = append(out, h)
	}
	f.nodes = append(f.nodes, h)
	f.n++
	return out
}

// root is the tree hash of the leaves so far (RFC 6962: the complete
// subtrees folded from the right).
func (f *frontier) root() tlog.Hash {
	if len(f.nodes) == 0 {
		return emptyTree
	}
	h := f.nodes[len(f.nodes)-1]
	for i := len(f.nodes) - 2; i >= 0; i-- {
		h = tlog.NodeHash(f.nodes[i], h)
	}
	return h
}

// loadFrontier reads the right edge of the stored tree of n leaves.
func loadFrontier(tx *bolt.Tx, n uint64) (frontier, error) {
	f := frontier{n: int64(n)}
	var idx []int64
	var lo int64
	for level := 63; level >= 0; level-- {
		if n&(1<<uint(level)) == 0 {
			continue
		}
		idx = append(idx, tlog.StoredHashIndex(level, lo>>uint(level)))
		lo += 1 << uint(level)
	}
	hs, err := hashReader(tx).ReadHashes(idx)
	if err != nil {
		return f, err
	}
	f.nodes = hs
	return f, nil
}

// treeSize is the number of leaves in the stored tree, from its last
// stored hash: leaf n-1 stores its own hash and then those of the m
// subtrees it completes, so the last key is at level m, node (n-1)>>m.
func treeSize(tx *bolt.Tx) int64 {
	k, _ := tx.Bucket(bTlog).Cursor().Last()
	if len(k) != 8 {
		return 0
	}
	level, node := tlog.SplitStoredHashIndex(int64(binary.BigEndian.Uint64(k)))
	return (node + 1) << uint(level)
}
