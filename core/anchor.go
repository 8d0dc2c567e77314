package core

import (
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Anchors that leave the box: every export manifest carries the latest
// signed checkpoint and inclusion proofs for its request's ledger entries,
// and the printed forms and the handover receipt carry the checkpoint's
// size and short root with the appliance key's fingerprint. An outsider
// holding any of them can later demand a consistency proof from the
// appliance (ledger verify --checkpoint) and see whether the ledger they
// were shown was rewritten.

// maxAnchoredEntries bounds the proofs one manifest carries. A request
// viewed all day could name thousands of view entries, and failed export
// attempts are not rate-limited: the steps of its paperwork
// (anchoredSteps) always come first, then the newest of the rest.
const maxAnchoredEntries = 1000

// anchoredSteps are the request's own steps up to its export, proven in
// every manifest whatever else the request gathered.
var anchoredSteps = map[Action]bool{ActionRequestRegister: true, ActionRequestInstruct: true,
	ActionRequestResult: true, ActionRequestApprove: true, ActionRequestProtect: true}

// requestEntrySeqs lists the ledger entries about request id, oldest
// first: its own entries (subject id) and those naming it (detail
// "request"). It scans back from the head and stops at the registration.
func requestEntrySeqs(tx *bolt.Tx, id string) []uint64 {
	var steps, rest []uint64
	c := tx.Bucket(bLedger).Cursor()
	for k, v := c.Last(); k != nil; k, v = c.Prev() {
		e, err := decodeEntry(v)
		if err != nil {
			continue
		}
		if e.Subject == id && anchoredSteps[e.Action] {
			steps = append(steps, e.Seq)
			if e.Action == ActionRequestRegister {
				break
			}
		} else if (e.Subject == id || e.Details["request"] == id) && len(rest) < maxAnchoredEntries {
			rest = append(rest, e.Seq) // newest first
		}
	}
	if room := maxAnchoredEntries - len(steps); len(rest) > room {
		rest = rest[:max(room, 0)] // the newest
	}
	seqs := append(steps, rest...)
	slices.Sort(seqs)
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
