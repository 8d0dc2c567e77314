package core

import (
	"bytes"
	"encoding/binary"
	"encoding/csv"
	"io"
	"sort"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ExportLedgerCSV writes the ledger as CSV (manager) and records the
// export: the classes show selects (`ledger --csv` writes people's acts;
// `--machine` / `--all` ask for the rest). Columns: seq, time, actor,
// fingerprint, role, action, subject, details (k=v; sorted), prev_hash,
// hash, and action_label: the action in Japanese, the regulations'
// language (labels.go). With only one class, seq numbers skip and
// prev_hash names entries that are not in the file; verify the chain with
// `ledger verify`.
func (s *Store) ExportLedgerCSV(actor Actor, w io.Writer, show LedgerShow) error {
	if err := s.check(actor, ActionLedgerExport, ""); err != nil {
		return err
	}
	// Record first, so the export contains its own entry.
	if _, err := s.mutate(actor, ActionLedgerExport, "ledger", func(tx *bolt.Tx) ([]draft, error) {
		return []draft{{Subject: "ledger", Details: map[string]string{"format": "csv", "classes": show.String()}}}, nil
	}); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"seq", "time", "actor", "fingerprint", "role", "action", "subject", "details", "prev_hash", "hash", "action_label"}); err != nil {
		return err
	}
	// Read in pages, each in its own short transaction, and write between
	// them: a client that stops reading must not hold a read transaction
	// open (it would stall every writer, the recorder's erasures included,
	// once bbolt needs to remap).
	const page = 5000 // entries looked at per read transaction
	var next uint64
	for done := false; !done; {
		var entries []Entry
		err := s.db.View(func(tx *bolt.Tx) error {
			c := tx.Bucket(bLedger).Cursor()
			n := 0
			k, v := c.Seek(be64(next))
			for ; k != nil && n < page; k, v = c.Next() {
				n++
				e, err := decodeEntry(v)
				if err != nil {
					return err
				}
				if show.Shows(e.Action) {
					entries = append(entries, e)
				}
			}
			if k == nil {
				done = true
			} else {
				next = binary.BigEndian.Uint64(k)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, e := range entries {
			keys := make([]string, 0, len(e.Details))
			for k := range e.Details {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var det bytes.Buffer
			for i, k := range keys {
				if i > 0 {
					det.WriteString("; ")
				}
				det.WriteString(k + "=" + e.Details[k])
			}
			// CSVRecord: entries written by older releases may hold
			// escapes; no cell may start a formula.
			if err := cw.Write(CSVRecord([]string{strconv.FormatUint(e.Seq, 10), e.Time.Format(time.RFC3339Nano),
				e.Actor.Name, e.Actor.Fingerprint, e.Actor.Role.String(), string(e.Action), e.Subject,
				det.String(), e.PrevHash, e.Hash, ActionLabel(e.Action, "ja")})); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}
