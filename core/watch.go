package core

import (
	"fmt"
	"sync"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
)

// ledgerWatch is the verified watermark behind the console's standing
// "intact / broken" indicator. After one full verification (started by
// Open) it keeps the verifier's state at the last verified entry, so each
// standing check costs O(entries added since) plus O(log n) tree hash
// reads: it re-reads the verified prefix's tree root from the stored
// hashes (a rewrite of any old entry that recomputed the hashes after it
// changes that root) and the last verified entry, then checks only the
// new entries. Edits to old entry bytes that leave the stored hashes
// alone are for the full verification to find (on request, offline).
type ledgerWatch struct {
	mu     sync.Mutex
	good   *chainVerifier // state after the last verified entry; nil until the first full pass ends
	broken *VerifyReport  // the first problem found; sticky until a full verification passes

	done, total atomic.Uint64 // progress of the first full pass
}

// settle takes the outcome of a full verification.
func (w *ledgerWatch) settle(cv *chainVerifier, rep VerifyReport) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !rep.OK {
		r := rep
		w.broken = &r
		return
	}
	w.broken = nil
	if w.good == nil || w.good.expect <= cv.expect {
		w.good = cv.clone()
	}
}

// status is the standing check.
func (w *ledgerWatch) status(db *bolt.DB) (VerifyReport, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.broken != nil {
		return *w.broken, nil
	}
	if w.good == nil {
		return VerifyReport{Pending: true, Done: w.done.Load(), Total: w.total.Load()}, nil
	}
	cv := w.good.clone()
	var ok bool
	err := db.View(func(tx *bolt.Tx) error {
		if n := cv.expect - 1; n > 0 {
			if p := prefixChanged(tx, cv, n); p != "" {
				cv.fail(n, "%s", p)
				return nil
			}
		}
		ok, _ = cv.run(tx, -1)
		return nil
	})
	if err != nil {
		return VerifyReport{}, err
	}
	rep := cv.rep
	rep.OK = ok
	if !ok {
		w.broken = &rep
		return rep, nil
	}
	w.good = cv
	return rep, nil
}

// prefixChanged compares what is stored now for the first n entries with
// what the watermark verified: the tree root over them and the last one's
// hash.
func prefixChanged(tx *bolt.Tx, cv *chainVerifier, n uint64) string {
	root, err := treeHash(tx, n)
	if err != nil || root != cv.tree.root() {
		return fmt.Sprintf("the first %d entries are no longer those verified earlier (their tree hash changed): entries were rewritten, removed or inserted", n)
	}
	v := tx.Bucket(bLedger).Get(be64(n))
	if len(v) < minStored || string(v[len(v)-hashLen:]) != string(cv.prev[:]) {
		return fmt.Sprintf("entry %d is no longer the one verified earlier", n)
	}
	return ""
}

// firstPass is the full verification after Open. A ledger that fits in
// one chunk is verified before Open returns; a longer one in the
// background, with progress for the console.
func (s *Store) firstPass() {
	cv := newChainVerifier()
	var ok, atEnd bool
	_ = s.db.View(func(tx *bolt.Tx) error {
		total, _ := readHead(tx)
		s.watch.total.Store(total)
		ok, atEnd = cv.run(tx, verifyChunk)
		return nil
	})
	s.watch.done.Store(cv.rep.Entries)
	if !ok || atEnd {
		cv.rep.OK = ok
		s.watch.settle(cv, cv.rep)
		return
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		rep, err := verifyAll(s.db, cv, func(done, total uint64) {
			s.watch.done.Store(done)
			s.watch.total.Store(total)
		}, s.closed)
		if err != nil {
			if err != errStoreClosed {
				s.log.Error("ledger: verification after start failed", "err", err)
			}
			return
		}
		if !rep.OK {
			s.log.Error("ledger: verification after start found a problem", "seq", rep.BrokenSeq, "problem", rep.Problem)
		}
		s.watch.settle(cv, rep)
	}()
}

// closed reports whether Close has begun.
func (s *Store) closed() bool {
	select {
	case <-s.closing:
		return true
	default:
		return false
	}
}

// ChainStatus is the console's standing "intact / broken at seq"
// indicator (manager). It writes no entry: it is not a verification
// somebody asked for. It costs O(entries added since the last check).
func (s *Store) ChainStatus(actor Actor) (VerifyReport, error) {
	if err := s.check(actor, ActionLedgerVerify, ""); err != nil {
		return VerifyReport{}, err
	}
	return s.watch.status(s.db)
}
