package core

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
	"golang.org/x/mod/sumdb/tlog"

	"mimamori/boltmap"
)

// VerifyReport is the outcome of checking the ledger.
type VerifyReport struct {
	Entries   uint64 // entries checked before the first problem (all, if OK)
	OK        bool
	BrokenSeq uint64 // first sequence number that does not fit (0 if OK)
	Problem   string
	Root      tlog.Hash // tree hash of the Entries checked, recomputed from the entries (if OK)

	// Checkpoints: the outcome for each outside checkpoint given to an
	// offline verification, in the order given. OK is then false if any
	// of them fails.
	Checkpoints []CheckpointResult

	// Pending: the standing check has no verified starting point yet (the
	// full verification after start is still running); Done of Total
	// entries are verified so far.
	Pending     bool
	Done, Total uint64
}

// CheckpointResult is what one outside checkpoint says about the ledger.
type CheckpointResult struct {
	Name    string // the file it came from
	Size    uint64 // tree size it vouches for (0 if unreadable)
	OK      bool
	Problem string
}

// FirstFailed is the first checkpoint that does not hold (nil if all do).
func (r VerifyReport) FirstFailed() *CheckpointResult {
	for i := range r.Checkpoints {
		if !r.Checkpoints[i].OK {
			return &r.Checkpoints[i]
		}
	}
	return nil
}

// chainVerifier checks the ledger in one pass, possibly spread over
// several read transactions: sequence continuity, key == seq in the value,
// prev-hash linkage, each entry's own hash, and the Merkle tree rebuilt
// from the entries against every stored tree hash (read with a second
// cursor in the same order). Its state after n entries is everything
// needed to check entry n+1 — the verified watermark is one of these.
type chainVerifier struct {
	expect  uint64 // next seq
	prev    [hashLen]byte
	tree    frontier
	next    int64 // next stored tree hash index
	scratch []tlog.Hash
	noTree  bool                 // a schema 1 database (before the tree): chain only
	want    map[uint64]bool      // tree sizes whose roots are wanted (checkpoints)
	roots   map[uint64]tlog.Hash // ... and their roots, recomputed
	rep     VerifyReport
}

func newChainVerifier() *chainVerifier { return &chainVerifier{expect: 1} }

func (cv *chainVerifier) fail(seq uint64, format string, a ...any) bool {
	cv.rep.BrokenSeq = seq
	cv.rep.Problem = fmt.Sprintf(format, a...)
	return false
}

// run checks up to limit entries from cv.expect within tx. It returns
// ok = false at the first problem, and atEnd when it reached the last
// entry of this transaction's view (then the head and the tree's end are
// checked too, so a completed run is a verdict on one consistent view).
func (cv *chainVerifier) run(tx *bolt.Tx, limit int) (ok, atEnd bool) {
	lb, mb, tb := tx.Bucket(bLedger), tx.Bucket(bMeta), tx.Bucket(bTlog)
	if lb == nil || mb == nil || (tb == nil && !cv.noTree) {
		return cv.fail(cv.expect, "ledger buckets missing"), true
	}
	c := lb.Cursor()
	var tk, tv []byte
	var tc *bolt.Cursor
	if !cv.noTree {
		tc = tb.Cursor()
		tk, tv = tc.Seek(be64(uint64(cv.next)))
	}
	k, v := c.Seek(be64(cv.expect))
	if cv.expect == 1 {
		k, v = c.First() // also sees a stray key below 1
	}
	for n := 0; k != nil; k, v = c.Next() {
		if n == limit {
			return true, false
		}
		n++
		seq := cv.expect
		if len(k) != 8 {
			return cv.fail(seq, "entry %d: key %x is not a sequence number", seq, k), true
		}
		if ks := binary.BigEndian.Uint64(k); ks != seq {
			return cv.fail(seq, "entry %d is missing (next key is %d)", seq, ks), true
		}
		if len(v) < minStored || !knownVersion(v[0]) {
			return cv.fail(seq, "entry %d is malformed", seq), true
		}
		if vs := binary.BigEndian.Uint64(v[offSeq:]); vs != seq {
			return cv.fail(seq, "entry stored as %d says it is %d (moved or reordered)", seq, vs), true
		}
		if !bytes.Equal(v[offPrev:offVar], cv.prev[:]) {
			return cv.fail(seq, "entry %d does not link to entry %d (edited, inserted or removed entry before it)", seq, seq-1), true
		}
		body, sum := v[:len(v)-hashLen], v[len(v)-hashLen:]
		if got := sha256.Sum256(body); !bytes.Equal(got[:], sum) {
			return cv.fail(seq, "entry %d content does not match its hash (edited)", seq), true
		}
		cv.scratch = cv.tree.add(v, cv.scratch)
		for _, h := range cv.scratch {
			if cv.noTree {
				break
			}
			if tk == nil || binary.BigEndian.Uint64(tk) != uint64(cv.next) {
				return cv.fail(seq, "ledger tree hash %d of entry %d is missing", cv.next, seq), true
			}
			if !bytes.Equal(tv, h[:]) {
				return cv.fail(seq, "entry %d does not match its ledger tree hash %d (the entry or the tree was changed)", seq, cv.next), true
			}
			cv.next++
			tk, tv = tc.Next()
		}
		copy(cv.prev[:], sum)
		cv.rep.Entries++
		cv.expect++
		if cv.want[seq] {
			cv.roots[seq] = cv.tree.root()
		}
	}
	return cv.end(mb, tk), true
}

// end checks, at the last entry, the head kept in meta (which catches
// deleting the last entries) and that the tree has nothing beyond it.
func (cv *chainVerifier) end(mb *bolt.Bucket, tk []byte) bool {
	last := cv.expect - 1
	hv := mb.Get(kLedgerHead)
	switch {
	case hv == nil && last == 0:
	case len(hv) != 8+hashLen:
		return cv.fail(last+1, "ledger head record missing or malformed")
	default:
		hs := binary.BigEndian.Uint64(hv[:8])
		if hs > last {
			return cv.fail(last+1, "ledger ends at %d but its head says %d (entries removed at the end)", last, hs)
		}
		if hs < last {
			return cv.fail(hs+1, "entries after the recorded head %d (appended outside the appliance)", hs)
		}
		if !bytes.Equal(hv[8:], cv.prev[:]) {
			return cv.fail(last, "last entry %d does not match the recorded head hash", last)
		}
	}
	if tk != nil {
		return cv.fail(last+1, "the ledger tree has hashes beyond its last entry %d (entries removed)", last)
	}
	cv.rep.Root = cv.tree.root()
	return true
}

// clone copies the state, so a check can run on a copy and the original
// stays the last good watermark.
func (cv *chainVerifier) clone() *chainVerifier {
	c := *cv
	c.tree.nodes = append([]tlog.Hash(nil), cv.tree.nodes...)
	c.scratch = nil
	c.rep.Checkpoints = nil
	return &c
}

// verifyChunk is how many entries one read transaction of a full
// verification checks (a few tens of ms): short transactions never hold
// back the writers (bbolt remaps wait for readers).
var verifyChunk = 20_000

// verifyAll runs a full verification in short read transactions,
// reporting progress after each. It stops early if stop returns true.
func verifyAll(db *bolt.DB, cv *chainVerifier, progress func(done, total uint64), stop func() bool) (VerifyReport, error) {
	for {
		var ok, atEnd bool
		var total uint64
		err := db.View(func(tx *bolt.Tx) error {
			total, _ = readHead(tx)
			ok, atEnd = cv.run(tx, verifyChunk)
			return nil
		})
		if err != nil {
			return cv.rep, err
		}
		if progress != nil {
			progress(cv.rep.Entries, max(total, cv.rep.Entries))
		}
		if !ok || atEnd {
			cv.rep.OK = ok
			return cv.rep, nil
		}
		if stop != nil && stop() {
			return cv.rep, errStoreClosed
		}
	}
}

// VerifyLedger checks the whole ledger (manager) and records that it did.
func (s *Store) VerifyLedger(actor Actor) (VerifyReport, error) {
	return s.VerifyLedgerProgress(actor, nil)
}

// VerifyLedgerProgress is VerifyLedger with progress reports (entries
// done of total) after each short read transaction, for the console.
func (s *Store) VerifyLedgerProgress(actor Actor, progress func(done, total uint64)) (VerifyReport, error) {
	if err := s.check(actor, ActionLedgerVerify, ""); err != nil {
		return VerifyReport{}, err
	}
	cv := newChainVerifier()
	rep, err := verifyAll(s.db, cv, progress, s.closed)
	// Every page was read: take them out of the process's mapping, or
	// RSS grows with the ledger (~250 MiB a year at 64 cameras).
	boltmap.Release(s.db)
	if err != nil {
		return rep, err
	}
	s.watch.settle(cv, rep)
	_, err = s.mutate(actor, ActionLedgerVerify, "ledger", func(tx *bolt.Tx) ([]draft, error) {
		return []draft{{Subject: "ledger", Details: map[string]string{
			"ok": strconv.FormatBool(rep.OK), "entries": strconv.FormatUint(rep.Entries, 10),
			"broken_seq": strconv.FormatUint(rep.BrokenSeq, 10), "problem": rep.Problem,
			"root": rep.Root.String(),
		}}}, nil
	})
	return rep, err
}

// VerifyOptions are the extras of an offline verification.
type VerifyOptions struct {
	// Checkpoints are signed checkpoints kept outside the appliance
	// (`ssh … ledger checkpoint`), each with the name of its file.
	Checkpoints []NamedCheckpoint
	// HostKey is the appliance's public key the checkpoints must be
	// signed with (from its data directory, or given by the auditor).
	HostKey CheckpointKey
	// Anchors are checkpoints as printed on forms and receipts: a size
	// and the start of the root, unsigned (ParseAnchor).
	Anchors []Anchor
	// Progress, if set, is told entries done of total after each chunk.
	Progress func(done, total uint64)
}

// Anchor is a ledger checkpoint as printed on forms 2 and 3 and the
// handover receipt: the tree size and the first bytes of its root hash
// (Checkpoint.ShortRoot). It is not signed: it is as good as the paper it
// is on, and lets whoever holds that paper check that the ledger's first
// Size entries are still those the appliance had when it was printed.
type Anchor struct {
	Name string // as given, for the report
	Size uint64
	Root []byte // the start of the root hash
}

// minAnchorRoot is the shortest root prefix accepted (ShortRoot's 8 bytes).
const minAnchorRoot = 8

// ParseAnchor reads "SIZE:ROOT", ROOT the start of the root hash in hex
// (at least 16 digits, as printed) or the whole root in base64.
func ParseAnchor(s string) (Anchor, error) {
	a := Anchor{Name: s}
	size, root, ok := strings.Cut(strings.TrimSpace(s), ":")
	n, err := strconv.ParseUint(size, 10, 63)
	if !ok || err != nil {
		return a, fmt.Errorf("%w: anchor %q is not SIZE:ROOT", ErrInvalid, CleanLine(s, 100))
	}
	a.Size = n
	if b, err := hex.DecodeString(root); err == nil && len(b) >= minAnchorRoot && len(b) <= tlog.HashSize {
		a.Root = b
		return a, nil
	}
	if b, err := base64.StdEncoding.DecodeString(root); err == nil && len(b) == tlog.HashSize {
		a.Root = b
		return a, nil
	}
	return a, fmt.Errorf("%w: anchor %q: the root is at least %d hex digits (as printed) or the base64 hash", ErrInvalid, CleanLine(s, 100), 2*minAnchorRoot)
}

// NamedCheckpoint is a checkpoint's note text and where it came from.
type NamedCheckpoint struct {
	Name string
	Text []byte
}

// VerifyLedgerFile checks the ledger of a database file offline, opened
// read-only, and each outside checkpoint: the ledger must be an
// append-only extension of it. It fails (times out) while the appliance
// holds the file.
func VerifyLedgerFile(path string, o VerifyOptions) (VerifyReport, error) {
	if _, err := os.Stat(path); err != nil {
		return VerifyReport{}, fmt.Errorf("ledger verify: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return VerifyReport{}, fmt.Errorf("ledger verify: %s is in use (stop the appliance first): %w", path, err)
		}
		return VerifyReport{}, fmt.Errorf("ledger verify: open %s: %w", path, err)
	}
	defer db.Close()
	ver, err := checkSchema(db)
	if err != nil {
		return VerifyReport{}, fmt.Errorf("ledger verify: %w", err)
	}
	cps := make([]CheckpointResult, len(o.Checkpoints))
	parsed := make([]Checkpoint, len(o.Checkpoints))
	cv := newChainVerifier()
	// Written by a release before the Merkle tree (not opened by this one
	// yet): the chain is all there is to check.
	cv.noTree = ver < 2
	cv.want, cv.roots = map[uint64]bool{}, map[uint64]tlog.Hash{}
	for i, nc := range o.Checkpoints {
		cps[i].Name = nc.Name
		cp, err := ParseCheckpoint(nc.Text, o.HostKey)
		if err != nil {
			cps[i].Problem = err.Error()
			continue
		}
		parsed[i], cps[i].Size = cp, cp.Size
		cv.want[cp.Size] = true
	}
	for _, a := range o.Anchors {
		cv.want[a.Size] = true
	}
	rep, err := verifyAll(db, cv, o.Progress, nil)
	if err != nil {
		return rep, err
	}
	for i := range cps {
		if cps[i].Problem != "" {
			continue
		}
		cps[i].Problem = checkAgainst(db, rep, cv.roots, parsed[i])
		cps[i].OK = cps[i].Problem == ""
	}
	for _, a := range o.Anchors {
		r := CheckpointResult{Name: "anchor " + a.Name, Size: a.Size}
		r.Problem = anchorProblem(rep, cv.roots, a)
		r.OK = r.Problem == ""
		cps = append(cps, r)
	}
	rep.Checkpoints = cps
	if rep.FirstFailed() != nil {
		rep.OK = false
	}
	return rep, nil
}

// checkAgainst says why the ledger is not an append-only extension of cp
// ("" if it is). roots holds the tree roots recomputed from the entries
// at the checkpoints' sizes.
func checkAgainst(db *bolt.DB, rep VerifyReport, roots map[uint64]tlog.Hash, cp Checkpoint) string {
	switch {
	case cp.Size == 0:
		return ""
	case cp.Size > rep.Entries && rep.OK:
		return fmt.Sprintf("the checkpoint vouches for %d entries but the ledger has only %d: entries were removed", cp.Size, rep.Entries)
	case cp.Size > rep.Entries:
		return fmt.Sprintf("the ledger is broken at entry %d, before the checkpoint's %d entries", rep.BrokenSeq, cp.Size)
	}
	if roots[cp.Size] != cp.Root {
		return fmt.Sprintf("the first %d entries are not those the checkpoint signed (root %s, now %s): history was rewritten",
			cp.Size, shortHash(cp.Root), shortHash(roots[cp.Size]))
	}
	if !rep.OK {
		return "" // the checkpoint's prefix is intact; the break is after it
	}
	// What an auditor with only stored hashes would check: a consistency
	// proof from the checkpoint's tree to today's.
	return consistencyProblem(db, cp, rep)
}

// anchorProblem says why the ledger's first a.Size entries are not those
// a printed anchor names ("" if they are).
func anchorProblem(rep VerifyReport, roots map[uint64]tlog.Hash, a Anchor) string {
	switch {
	case a.Size > rep.Entries && rep.OK:
		return fmt.Sprintf("the anchor names %d entries but the ledger has only %d: entries were removed", a.Size, rep.Entries)
	case a.Size > rep.Entries:
		return fmt.Sprintf("the ledger is broken at entry %d, before the anchor's %d entries", rep.BrokenSeq, a.Size)
	}
	root := emptyTree
	if a.Size > 0 {
		root = roots[a.Size]
	}
	if !bytes.HasPrefix(root[:], a.Root) {
		return fmt.Sprintf("the first %d entries are not those the anchor names (root %x…, now %x…): history was rewritten",
			a.Size, a.Root, root[:len(a.Root)])
	}
	return ""
}

func consistencyProblem(db *bolt.DB, cp Checkpoint, rep VerifyReport) string {
	var problem string
	_ = db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bTlog) == nil {
			return nil // before the tree: the recomputed roots were the check
		}
		p, err := tlog.ProveTree(int64(rep.Entries), int64(cp.Size), hashReader(tx))
		if err == nil {
			err = tlog.CheckTree(p, int64(rep.Entries), rep.Root, int64(cp.Size), cp.Root)
		}
		if err != nil {
			problem = "consistency proof fails: " + err.Error()
		}
		return nil
	})
	return problem
}

func shortHash(h tlog.Hash) string { return fmt.Sprintf("%x", h[:6]) }
