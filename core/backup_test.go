package core

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

// A manager's backup is a database that opens, whose ledger verifies and
// holds everything up to the seq it reports, and the backup itself is
// ledgered with the snapshot's SHA-256.
func TestBackupIsAVerifiableLedgeredSnapshot(t *testing.T) {
	s, _, _ := newTestStore(t, CityStandard())
	mustCamera(t, s, "cam1")
	mustCamera(t, s, "cam2")
	var buf bytes.Buffer
	rep, err := s.Backup(t.Context(), manager, &buf)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	if int64(buf.Len()) != rep.Bytes || hex.EncodeToString(sum[:]) != rep.SHA256 {
		t.Fatalf("report %+v does not match the %d bytes sent", rep, buf.Len())
	}
	e := lastEntry(t, s)
	if e.Action != ActionBackup || e.Actor.Name != manager.Name || e.Details["sha256"] != rep.SHA256 ||
		e.Details["bytes"] != strconv.FormatInt(rep.Bytes, 10) || e.Details["ledger_seq"] != strconv.FormatUint(rep.LedgerSeq, 10) {
		t.Fatalf("backup entry %+v, report %+v", e, rep)
	}
	if rep.LedgerSeq != e.Seq-1 {
		t.Fatalf("snapshot holds seq %d; the backup entry is %d", rep.LedgerSeq, e.Seq)
	}

	path := filepath.Join(t.TempDir(), "mimamori.db")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	vr, err := VerifyLedgerFile(path, VerifyOptions{})
	if err != nil || !vr.OK || vr.Entries != rep.LedgerSeq {
		t.Fatalf("snapshot ledger: %+v %v (want %d entries)", vr, err, rep.LedgerSeq)
	}
	restored, err := Open(path, Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer restored.Close()
	cams, err := restored.Cameras(manager)
	if err != nil || len(cams) != 2 {
		t.Fatalf("restored cameras: %v %v", cams, err)
	}
}

func TestBackupRefusesOthers(t *testing.T) {
	s, _, _ := newTestStore(t, CityStandard())
	for _, a := range []Actor{operator, technician, system} {
		var buf bytes.Buffer
		if _, err := s.Backup(t.Context(), a, &buf); !errors.Is(err, ErrForbidden) || buf.Len() != 0 {
			t.Fatalf("%s: %v, %d bytes", a.Role, err, buf.Len())
		}
		if e := lastEntry(t, s); e.Action != ActionDenied || e.Subject != string(ActionBackup) {
			t.Fatalf("refusal not ledgered: %+v", e)
		}
	}
}

func TestBackupOneAtATime(t *testing.T) {
	s, _, _ := newTestStore(t, CityStandard())
	s.backupMu.Lock()
	_, err := s.Backup(t.Context(), manager, &bytes.Buffer{})
	s.backupMu.Unlock()
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("second backup: %v", err)
	}
}

// stallWriter blocks its first Write until released, then fails or passes.
// Its channels are never reassigned: the test waits on started while
// Backup's goroutine writes (the field used to be set to nil there, a
// data race with the test reading it).
type stallWriter struct {
	started, release chan struct{}
	once             sync.Once
	fail             error
	n                int
}

func (w *stallWriter) Write(p []byte) (int, error) {
	w.once.Do(func() {
		close(w.started)
		<-w.release
	})
	if w.fail != nil {
		return 0, w.fail
	}
	w.n += len(p)
	return len(p), nil
}

// A client that stops reading holds no read transaction (the snapshot is
// spooled first), so writers go on; a stream that breaks off is ledgered.
func TestBackupStalledClientHoldsNoTransaction(t *testing.T) {
	s, _, _ := newTestStore(t, CityStandard())
	mustCamera(t, s, "cam1")
	w := &stallWriter{started: make(chan struct{}), release: make(chan struct{}), fail: errors.New("client went away")}
	done := make(chan error, 1)
	go func() { _, err := s.Backup(context.Background(), manager, w); done <- err }()
	<-w.started
	if n := s.db.Stats().OpenTxN; n != 0 {
		t.Fatalf("%d read transactions open while the client stalls", n)
	}
	mustCamera(t, s, "cam2") // a writer is not held up
	close(w.release)
	if err := <-done; err == nil {
		t.Fatal("a failed stream reported success")
	}
	e := lastEntry(t, s)
	if e.Action != ActionBackup || e.Details["outcome"] != "interrupted" || e.Details["sent_bytes"] != "0" {
		t.Fatalf("interrupted backup entry: %+v", e)
	}
}
