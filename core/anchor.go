package core

import (
	bolt "go.etcd.io/bbolt"
)

// Anchors that leave the box: every export manifest carries the latest
// signed checkpoint and inclusion proofs for its request's ledger entries,
// and the printed forms and the handover receipt carry the checkpoint's
// size and short root with the appliance key's fingerprint. An outsider
// holding any of them can later demand a consistency proof from the
// appliance (ledger verify --checkpoint) and see whether the ledger they
// were shown was rewritten.

// maxAnchoredEntries bounds the proofs one manifest carries (a request
// viewed all day could name thousands of view entries; the steps of its
// paperwork come first, as the newest are kept).
const maxAnchoredEntries = 1000

// requestEntrySeqs lists the ledger entries about request id, oldest
// first: its own entries (subject id) and those naming it (detail
// "request"). It scans back from the head and stops at the registration.
func requestEntrySeqs(tx *bolt.Tx, id string) []uint64 {
	var seqs []uint64
	c := tx.Bucket(bLedger).Cursor()
	for k, v := c.Last(); k != nil; k, v = c.Prev() {
		e, err := decodeEntry(v)
		if err != nil {
			continue
		}
		if e.Subject == id || e.Details["request"] == id {
			if len(seqs) < maxAnchoredEntries {
				seqs = append(seqs, e.Seq)
			}
			if e.Action == ActionRequestRegister && e.Subject == id {
				break
			}
		}
	}
	for i, j := 0, len(seqs)-1; i < j; i, j = i+1, j-1 {
		seqs[i], seqs[j] = seqs[j], seqs[i]
	}
	return seqs
}

// requestAnchor signs the current checkpoint and proves request id's
// entries in it. ErrUnavailable when the store has no signing key.
func (s *Store) requestAnchor(id string) (Checkpoint, []EntryProof, error) {
	var cp Checkpoint
	var proofs []EntryProof
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		if cp, err = s.checkpointTx(tx); err != nil {
			return err
		}
		proofs, err = proveInTx(tx, cp.Size, requestEntrySeqs(tx, id))
		return err
	})
	return cp, proofs, err
}

// DocumentCheckpoint is the checkpoint printed on forms and receipts: for
// anyone who may read requests (it writes nothing).
func (s *Store) DocumentCheckpoint(actor Actor) (Checkpoint, error) {
	if err := s.check(actor, ActionRequestsRead, ""); err != nil {
		return Checkpoint{}, err
	}
	var cp Checkpoint
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		cp, err = s.checkpointTx(tx)
		return err
	})
	return cp, err
}
