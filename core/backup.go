package core

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// BackupReport describes one online backup of mimamori.db.
type BackupReport struct {
	Bytes     int64         // size of the snapshot
	SHA256    string        // hex SHA-256 of the snapshot, as ledgered
	LedgerSeq uint64        // the last ledger entry the snapshot contains
	Held      time.Duration // how long the read transaction was open
}

// backupSpoolMargin is the free space a backup leaves on the data
// directory's file system besides its own spool (the ledger must still
// be able to grow while it runs).
const backupSpoolMargin = 64 << 20

// errBackupRunning refuses a second backup while one runs: each holds a
// spool the size of the database.
var errBackupRunning = fmt.Errorf("%w: a backup is already running", ErrConflict)

// Backup writes a consistent snapshot of the database to w (manager
// only). The snapshot is a bbolt read transaction's WriteTo, so recording
// and every other writer go on meanwhile.
//
// It is written first to an unlinked spool file beside the database and
// only then streamed to w: a read transaction must stay short, because
// while one is open bbolt cannot reuse freed pages and a commit that has to
// grow the memory map waits for it. A slow or stalled client therefore
// holds only the spool (deleted on close, even after a crash), never the
// transaction. The backup is ledgered (size, SHA-256, last ledger seq it
// holds) before a byte leaves; a stream that breaks off is ledgered too.
//
// What it does not contain: footage (ring.dat), the recording index
// (index.db) and the SSH host key. See docs/install.md.
func (s *Store) Backup(ctx context.Context, actor Actor, w io.Writer) (BackupReport, error) {
	if err := s.check(actor, ActionBackup, "mimamori.db"); err != nil {
		return BackupReport{}, err
	}
	if !s.backupMu.TryLock() {
		return BackupReport{}, errBackupRunning
	}
	defer s.backupMu.Unlock()

	spool, rep, err := s.spoolSnapshot()
	if err != nil {
		return BackupReport{}, fmt.Errorf("backup: %w", err)
	}
	defer spool.Close()

	_, err = s.mutate(actor, ActionBackup, "mimamori.db", func(*bolt.Tx) ([]draft, error) {
		return []draft{{Subject: "mimamori.db", Details: map[string]string{
			"bytes": strconv.FormatInt(rep.Bytes, 10), "sha256": rep.SHA256,
			"ledger_seq": strconv.FormatUint(rep.LedgerSeq, 10),
		}}}, nil
	})
	if err != nil {
		return BackupReport{}, fmt.Errorf("backup: not sent, could not ledger it: %w", err)
	}

	sent, err := io.Copy(w, &ctxReader{ctx: ctx, r: spool})
	if err == nil && sent != rep.Bytes {
		err = fmt.Errorf("spool holds %d bytes, expected %d", sent, rep.Bytes)
	}
	if err != nil {
		_, lerr := s.mutate(actor, ActionBackup, "mimamori.db", func(*bolt.Tx) ([]draft, error) {
			return []draft{{Subject: "mimamori.db", Details: map[string]string{
				"outcome": "interrupted", "sent_bytes": strconv.FormatInt(sent, 10),
				"sha256": rep.SHA256, "error": ledgerSafe(err.Error(), 200),
			}}}, nil
		})
		if lerr != nil {
			s.log.Error("ledger: cannot record interrupted backup", "err", lerr)
		}
		return rep, fmt.Errorf("backup interrupted after %d of %d bytes: %w", sent, rep.Bytes, err)
	}
	return rep, nil
}

// spoolSnapshot copies a read transaction's view of the database into an
// unlinked file in the database's directory and returns it rewound.
func (s *Store) spoolSnapshot() (*os.File, BackupReport, error) {
	dir := filepath.Dir(s.db.Path())
	f, err := os.CreateTemp(dir, ".backup-*.spool")
	if err != nil {
		return nil, BackupReport{}, err
	}
	// Unlinked at once: nothing to clean up after a crash.
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, BackupReport{}, err
	}
	var rep BackupReport
	h := sha256.New()
	err = s.db.View(func(tx *bolt.Tx) error {
		size := tx.Size()
		if free, ok := freeBytes(dir); ok && free < size+backupSpoolMargin {
			return fmt.Errorf("%w: %d bytes free in %s, the snapshot needs %d plus %d to spare",
				ErrUnavailable, free, dir, size, backupSpoolMargin)
		}
		t0 := time.Now()
		rep.LedgerSeq, _ = readHead(tx)
		n, err := tx.WriteTo(io.MultiWriter(f, h))
		rep.Bytes, rep.Held = n, time.Since(t0)
		return err
	})
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, BackupReport{}, err
	}
	rep.SHA256 = hex.EncodeToString(h.Sum(nil))
	return f, rep, nil
}

func freeBytes(dir string) (int64, bool) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, false
	}
	return int64(st.Bavail) * int64(st.Bsize), true
}

// ctxReader stops a copy once ctx is done (the SSH session ended).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, errors.Join(errors.New("session ended"), err)
	}
	return c.r.Read(p)
}
