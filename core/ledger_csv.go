package core

import (
	"bytes"
	"encoding/csv"
	"io"
	"sort"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ExportLedgerCSV writes the whole ledger as CSV (manager) and records the
// export. Columns: seq, time, actor, fingerprint, role, action, subject,
// details (k=v; sorted), prev_hash, hash, and action_label: the action
// in Japanese, the regulations' language (labels.go).
func (s *Store) ExportLedgerCSV(actor Actor, w io.Writer) error {
	if err := s.check(actor, ActionLedgerExport, ""); err != nil {
		return err
	}
	// Record first, so the export contains its own entry.
	if _, err := s.mutate(actor, ActionLedgerExport, "ledger", func(tx *bolt.Tx) ([]draft, error) {
		return []draft{{Subject: "ledger", Details: map[string]string{"format": "csv"}}}, nil
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
	const page = 1000
	var next uint64
	for {
		var entries []Entry
		err := s.db.View(func(tx *bolt.Tx) error {
			c := tx.Bucket(bLedger).Cursor()
			for k, v := c.Seek(be64(next)); k != nil && len(entries) < page; k, v = c.Next() {
				e, err := decodeEntry(v)
				if err != nil {
					return err
				}
				entries = append(entries, e)
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
		if len(entries) < page {
			break
		}
		next = entries[len(entries)-1].Seq + 1
	}
	cw.Flush()
	return cw.Error()
}
