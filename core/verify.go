package core

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// VerifyReport is the outcome of checking the ledger chain.
type VerifyReport struct {
	Entries   uint64 // entries checked before the first problem (all, if OK)
	OK        bool
	BrokenSeq uint64 // first sequence number that does not fit (0 if OK)
	Problem   string
}

// verifyTx streams the ledger with a cursor: sequence continuity, key ==
// seq in the value, prev-hash linkage, hash recomputation, and finally the
// head kept in meta (which catches deleting the last entries).
func verifyTx(tx *bolt.Tx) VerifyReport {
	var r VerifyReport
	lb, mb := tx.Bucket(bLedger), tx.Bucket(bMeta)
	if lb == nil || mb == nil {
		r.Problem = "ledger buckets missing"
		r.BrokenSeq = 1
		return r
	}
	fail := func(seq uint64, format string, a ...any) VerifyReport {
		r.BrokenSeq = seq
		r.Problem = fmt.Sprintf(format, a...)
		return r
	}
	var prev [hashLen]byte
	expect := uint64(1)
	c := lb.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(k) != 8 {
			return fail(expect, "entry %d: key %x is not a sequence number", expect, k)
		}
		if ks := binary.BigEndian.Uint64(k); ks != expect {
			return fail(expect, "entry %d is missing (next key is %d)", expect, ks)
		}
		if len(v) < offVar+hashLen || v[0] != entryVersion {
			return fail(expect, "entry %d is malformed", expect)
		}
		if vs := binary.BigEndian.Uint64(v[offSeq:]); vs != expect {
			return fail(expect, "entry stored as %d says it is %d (moved or reordered)", expect, vs)
		}
		if !bytes.Equal(v[offPrev:offVar], prev[:]) {
			return fail(expect, "entry %d does not link to entry %d (edited, inserted or removed entry before it)", expect, expect-1)
		}
		body, sum := v[:len(v)-hashLen], v[len(v)-hashLen:]
		if got := sha256.Sum256(body); !bytes.Equal(got[:], sum) {
			return fail(expect, "entry %d content does not match its hash (edited)", expect)
		}
		copy(prev[:], sum)
		r.Entries++
		expect++
	}
	last := expect - 1
	hv := mb.Get(kLedgerHead)
	switch {
	case hv == nil && last == 0:
	case len(hv) != 8+hashLen:
		return fail(last+1, "ledger head record missing or malformed")
	default:
		hs := binary.BigEndian.Uint64(hv[:8])
		if hs > last {
			return fail(last+1, "ledger ends at %d but its head says %d (entries removed at the end)", last, hs)
		}
		if hs < last {
			return fail(hs+1, "entries after the recorded head %d (appended outside the appliance)", hs)
		}
		if !bytes.Equal(hv[8:], prev[:]) {
			return fail(last, "last entry %d does not match the recorded head hash", last)
		}
	}
	r.OK = true
	return r
}

// VerifyLedger checks the chain (manager) and records that it did.
func (s *Store) VerifyLedger(actor Actor) (VerifyReport, error) {
	rep, err := s.ChainStatus(actor)
	if err != nil {
		return rep, err
	}
	_, err = s.mutate(actor, ActionLedgerVerify, "ledger", func(tx *bolt.Tx) ([]draft, error) {
		return []draft{{Subject: "ledger", Details: map[string]string{
			"ok": strconv.FormatBool(rep.OK), "entries": strconv.FormatUint(rep.Entries, 10),
			"broken_seq": strconv.FormatUint(rep.BrokenSeq, 10), "problem": rep.Problem,
		}}}, nil
	})
	return rep, err
}

// ChainStatus checks the chain like VerifyLedger but writes no entry: it
// is the console's standing "intact / broken at seq" indicator, refreshed
// on its own, not a verification somebody asked for.
func (s *Store) ChainStatus(actor Actor) (VerifyReport, error) {
	if err := s.check(actor, ActionLedgerVerify, ""); err != nil {
		return VerifyReport{}, err
	}
	var rep VerifyReport
	err := s.db.View(func(tx *bolt.Tx) error { rep = verifyTx(tx); return nil })
	return rep, err
}

// VerifyLedgerFile checks the ledger of a database file offline, opened
// read-only. It fails (times out) while the appliance holds the file.
func VerifyLedgerFile(path string) (VerifyReport, error) {
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
	var rep VerifyReport
	err = db.View(func(tx *bolt.Tx) error { rep = verifyTx(tx); return nil })
	return rep, err
}

// ExportLedgerCSV writes the whole ledger as CSV (manager) and records the
// export. Columns: seq, time, actor, fingerprint, role, action, subject,
// details (k=v; sorted), prev_hash, hash.
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
	if err := cw.Write([]string{"seq", "time", "actor", "fingerprint", "role", "action", "subject", "details", "prev_hash", "hash"}); err != nil {
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
				det.String(), e.PrevHash, e.Hash})); err != nil {
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
