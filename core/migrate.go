package core

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	bolt "go.etcd.io/bbolt"
)

// Schema versions and migrations.
//
// meta/schema holds the version of the stored data (8 bytes big-endian).
// Version 1 is what release 28ba08b and everything before wrote. Each
// later version is reached by one step of the list below, applied in
// order by Open, each in its own transaction that also writes the new
// version and a ledger entry `schema.migrate` (from, to, step). A crash
// during a step rolls that transaction back; a crash between steps leaves
// the version of the last completed step. Either way the next Open simply
// carries on. A database newer than this program is refused before
// anything is written.
//
// To change how something is stored:
//
//  1. append a step to migrations, with To one more than the last;
//  2. make Run convert the old layout to the new one inside tx, and
//     return an error (never panic) naming the bucket and key of any
//     record it cannot read — the transaction is then rolled back and
//     Open fails with that message;
//  3. if the step may touch more records than fit comfortably in one
//     transaction (a year of ledger: millions), do a bounded part per
//     call, keep the progress in meta in the same tx and return more;
//  4. add a test that opens a database of the previous version (the
//     fixture under testdata/release-28ba08b is version 1), and update
//     core/testdata/stored_fields.golden if a record's fields changed.
//
// Steps run before the committer starts, with the database to
// themselves; the ledger entry of each step is written by the runner, so
// a step must not append entries itself.

var kMigrateProgress = []byte("migrate_progress") // a chunked step's resume point

type migration struct {
	To   uint64
	Name string
	// Run applies the step (or the next part of it) in tx. more = true
	// means "call again in a new transaction": the progress is in tx.
	// details go into the step's ledger entry (merged over the calls).
	Run func(tx *bolt.Tx, details map[string]string) (more bool, err error)
}

// migrations is the ordered list; migrations[i] goes from i+1 to i+2.
// Tests substitute their own.
var migrations = []migration{
	{To: 2, Name: "ledger-tree", Run: migrateLedgerTree},
	{To: 3, Name: "erasure-dedup", Run: migrateErasureDedup},
	{To: 4, Name: "erasure-window", Run: migrateErasureWindow},
}

func latestSchema() uint64 { return uint64(len(migrations)) + 1 }

// ErrSchemaNewer is returned by Open for a database written by a newer
// release; nothing has been changed.
var ErrSchemaNewer = errors.New("database was written by a newer release of mimamori")

// readSchema returns the stored version, 0 for a new (empty) database.
func readSchema(tx *bolt.Tx) (uint64, error) {
	meta := tx.Bucket(bMeta)
	if meta == nil {
		return 0, nil
	}
	v := meta.Get(kSchema)
	if v == nil {
		// Written before versions were kept, if it holds anything at all.
		if lb := tx.Bucket(bLedger); lb != nil {
			if k, _ := lb.Cursor().First(); k != nil {
				return 1, nil
			}
		}
		return 0, nil
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: meta/schema is %d bytes, not 8: the database is damaged (restore a backup)", ErrInvalid, len(v))
	}
	ver := binary.BigEndian.Uint64(v)
	if ver == 0 {
		return 0, fmt.Errorf("%w: meta/schema is 0: the database is damaged (restore a backup)", ErrInvalid)
	}
	return ver, nil
}

// checkSchema is the read-only first look at a database: it refuses one
// newer than this program without writing anything.
func checkSchema(db *bolt.DB) (uint64, error) {
	var ver uint64
	err := db.View(func(tx *bolt.Tx) error {
		var err error
		ver, err = readSchema(tx)
		return err
	})
	if err == nil && ver > latestSchema() {
		err = fmt.Errorf("%w: its schema is version %d, this program knows up to %d; run a release at least as new as the one that wrote it (nothing was changed)",
			ErrSchemaNewer, ver, latestSchema())
	}
	return ver, err
}

// migrate brings a database of version ver up to date. A new database
// (ver 0) just gets the latest version.
func (s *Store) migrate(ver uint64) error {
	if ver == 0 {
		return s.db.Update(func(tx *bolt.Tx) error {
			if err := createBuckets(tx); err != nil {
				return err
			}
			return tx.Bucket(bMeta).Put(kSchema, be64(latestSchema()))
		})
	}
	details := map[string]string{}
	for {
		done := false
		err := s.db.Update(func(tx *bolt.Tx) error {
			// Buckets new in this release, in the step's own transaction
			// so that a failed step leaves the file as it was.
			if err := createBuckets(tx); err != nil {
				return err
			}
			cur, err := readSchema(tx)
			if err != nil {
				return err
			}
			if cur >= latestSchema() {
				done = true
				return nil
			}
			m := migrations[cur-1]
			if m.To != cur+1 {
				return fmt.Errorf("schema migration list is out of order at %d (step %q goes to %d)", cur, m.Name, m.To)
			}
			more, err := runStep(m, tx, details)
			if err != nil {
				return fmt.Errorf("schema migration %d→%d (%s): %w", cur, m.To, m.Name, err)
			}
			if more {
				return nil
			}
			if err := tx.Bucket(bMeta).Delete(kMigrateProgress); err != nil {
				return err
			}
			if err := tx.Bucket(bMeta).Put(kSchema, be64(m.To)); err != nil {
				return err
			}
			det := map[string]string{"from": strconv.FormatUint(cur, 10), "to": strconv.FormatUint(m.To, 10), "step": m.Name}
			for k, v := range details {
				det[k] = v
			}
			if _, err := appendEntryAt(tx, s.nowUTC(), SystemActor("migrate"), ActionSchemaMigrate, "schema", det); err != nil {
				return err
			}
			s.log.Info("schema migrated", "from", cur, "to", m.To, "step", m.Name)
			clear(details)
			return nil
		})
		if err != nil || done {
			return err
		}
	}
}

// runStep calls a step, turning a panic into an error: a damaged record
// must give a message, not take the appliance down.
func runStep(m migration, tx *bolt.Tx, details map[string]string) (more bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error: %v", p)
		}
	}()
	return m.Run(tx, details)
}

func createBuckets(tx *bolt.Tx) error {
	for _, name := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	return nil
}

// migrateTreeChunk bounds one transaction of the ledger-tree step: about
// 2 × 32 bytes of hashes and a few µs per entry.
var migrateTreeChunk = 100_000

// migrateLedgerTree (1→2) builds the Merkle tree over the existing
// entries: leaf i is the stored bytes of the i-th entry, exactly as the
// old release wrote them (v1 entries stay as they are and still verify).
func migrateLedgerTree(tx *bolt.Tx, details map[string]string) (bool, error) {
	meta := tx.Bucket(bMeta)
	var after []byte // last ledger key already in the tree
	if v := meta.Get(kMigrateProgress); v != nil {
		after = append([]byte(nil), v...)
	}
	n := treeSize(tx)
	c := tx.Bucket(bLedger).Cursor()
	var k, v []byte
	if after == nil {
		k, v = c.First()
	} else if k, v = c.Seek(after); k != nil && string(k) == string(after) {
		k, v = c.Next()
	}
	for done := 0; k != nil; k, v = c.Next() {
		if done == migrateTreeChunk {
			return true, meta.Put(kMigrateProgress, after)
		}
		if err := tlogAppend(tx, n, v); err != nil {
			return false, fmt.Errorf("ledger/%x: %w", k, err)
		}
		n++
		done++
		after = append(after[:0], k...)
	}
	details["tree_size"] = strconv.FormatUint(uint64(n), 10)
	return false, nil
}
