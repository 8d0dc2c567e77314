package core

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// fileExporter writes a real file per job, or fails with err.
type fileExporter struct {
	err  error
	jobs []ExportJob
}

func (f *fileExporter) Export(ctx context.Context, job ExportJob, progress func(done, total int64)) (ExportRecord, error) {
	f.jobs = append(f.jobs, job)
	if f.err != nil {
		return ExportRecord{}, f.err
	}
	p := filepath.Join(job.Dir, job.Request.ID+".mimamori")
	if err := os.WriteFile(p, []byte("package"), 0o600); err != nil {
		return ExportRecord{}, err
	}
	if progress != nil {
		progress(7, 7)
	}
	return ExportRecord{Path: p, ManifestHash: strings.Repeat("ab", 32),
		Files: []ExportFile{{Name: "cam1.mp4", Camera: "cam1", SHA256: strings.Repeat("cd", 32), Bytes: 7}}}, nil
}

const exportPass = "manager-held passphrase"

func approvedRequest(t *testing.T, s *Store) Request {
	t.Helper()
	r, err := s.RegisterRequest(operator, requestInput("cam1"))
	if err == nil {
		_, err = s.InstructSearch(manager, r.ID, operator.Name)
	}
	if err == nil {
		_, err = s.RecordResult(operator, r.ID, "found", "", whole(t, s, r.ID)...)
	}
	if err == nil {
		_, err = s.Approve(manager, r.ID, okJudgement)
	}
	var k PackageKey
	if err == nil {
		k, err = s.ProtectPackage(manager, r.ID, "")
	}
	if err != nil {
		t.Fatal(err)
	}
	return k.Request
}

func newExportStore(t *testing.T) (*Store, *fileExporter) {
	t.Helper()
	s, _, _ := newTestStore(t, CityStandard())
	s.SetFootage(&fakeFootage{})
	mustCamera(t, s, "cam1")
	if err := s.SetExportPassphrase(manager, []byte(exportPass)); err != nil {
		t.Fatal(err)
	}
	fe := &fileExporter{}
	s.SetExporter(fe)
	return s, fe
}

func TestExportRequestHappyPath(t *testing.T) {
	s, fe := newExportStore(t)
	r := approvedRequest(t, s)
	dir := t.TempDir()
	out, err := s.ExportRequest(context.Background(), operator, r.ID, []byte(exportPass), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if out.State != StateExported || out.Export == nil || out.Export.By != operator.Name {
		t.Fatalf("after export: %s %+v", out.State, out.Export)
	}
	j := fe.jobs[0]
	if j.Approver != manager.Name || j.Operator != operator.Name || j.Dir != dir || !j.From.Equal(r.From) ||
		!j.To.Equal(r.To) || len(j.Cameras) != 1 || j.LedgerSeq == 0 || j.Protection != ProtectApprovalSecret ||
		len(j.Recipients) != 1 || j.Recipients[0] != r.Protection.Recipient {
		t.Fatalf("job: %+v", j)
	}
	if e := lastEntry(t, s); e.Action != ActionRequestExport || e.Subject != r.ID ||
		e.Details["protection"] != ProtectApprovalSecret || e.Details["recipient"] != r.Protection.KeyID {
		t.Fatalf("last entry %s %s %v", e.Action, e.Subject, e.Details)
	}
	if out.Export.Protection != ProtectApprovalSecret || out.Export.KeyID != r.Protection.KeyID {
		t.Fatalf("export record does not say how it was protected: %+v", out.Export)
	}
	// Exported once: a second export is a conflict.
	if _, err := s.ExportRequest(context.Background(), operator, r.ID, []byte(exportPass), dir, nil); !errors.Is(err, ErrConflict) {
		t.Fatalf("second export: %v", err)
	}
}

func TestExportBeforeApproval(t *testing.T) {
	s, fe := newExportStore(t)
	r, err := s.RegisterRequest(operator, requestInput("cam1"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.ExportRequest(context.Background(), operator, r.ID, []byte(exportPass), t.TempDir(), nil)
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("export of a registered request: %v, want ErrConflict", err)
	}
	if len(fe.jobs) != 0 {
		t.Fatal("exporter called for an unapproved request")
	}
	got, _ := s.Request(manager, r.ID)
	if got.State != StateRegistered {
		t.Fatalf("state %s", got.State)
	}
}

func TestExportRoles(t *testing.T) {
	s, fe := newExportStore(t)
	r := approvedRequest(t, s)
	_, err := s.ExportRequest(context.Background(), technician, r.ID, []byte(exportPass), t.TempDir(), nil)
	if !errors.Is(err, ErrForbidden) || len(fe.jobs) != 0 {
		t.Fatalf("technician export: %v", err)
	}
	if e := lastEntry(t, s); e.Action != ActionDenied {
		t.Fatalf("refusal not ledgered: %s", e.Action)
	}
	if _, err := s.ExportRequest(context.Background(), manager, r.ID, []byte(exportPass), t.TempDir(), nil); err != nil {
		t.Fatalf("manager export: %v", err)
	}
}

func TestExportWrongPassphrase(t *testing.T) {
	s, fe := newExportStore(t)
	r := approvedRequest(t, s)
	head := s.LedgerHead()
	_, err := s.ExportRequest(context.Background(), operator, r.ID, []byte("not the passphrase"), t.TempDir(), nil)
	if !errors.Is(err, ErrForbidden) || !errors.Is(err, ErrWrongPassphrase) || !strings.Contains(err.Error(), "wrong export passphrase") {
		t.Fatalf("wrong passphrase: %v", err)
	}
	if len(fe.jobs) != 0 {
		t.Fatal("exporter called with a wrong passphrase")
	}
	e := lastEntry(t, s)
	if e.Seq != head+1 || e.Action != ActionRequestExportFailed || e.Details["stage"] != "wrong-passphrase" || e.Subject != r.ID {
		t.Fatalf("failed attempt not ledgered: %+v", e)
	}
	if strings.Contains(e.Details["error"], "not the passphrase") {
		t.Fatal("ledger leaks the attempted passphrase")
	}
	got, _ := s.Request(manager, r.ID)
	if got.State != StateApproved {
		t.Fatalf("state %s after a wrong passphrase", got.State)
	}
}

// Without the manager's lock (no export passphrase set) an approved,
// protected request exports without any passphrase.
func TestExportWithoutLock(t *testing.T) {
	s, _, _ := newTestStore(t, CityStandard())
	s.SetFootage(&fakeFootage{})
	mustCamera(t, s, "cam1")
	s.SetExporter(&fileExporter{})
	r := approvedRequest(t, s)
	if _, err := s.ExportRequest(context.Background(), operator, r.ID, nil, t.TempDir(), nil); err != nil {
		t.Fatalf("export without a lock: %v", err)
	}
}

// An approval whose protection the manager has not chosen cannot export.
func TestExportNeedsProtection(t *testing.T) {
	s, fe := newExportStore(t)
	r, err := s.RegisterRequest(operator, requestInput("cam1"))
	if err == nil {
		_, err = s.InstructSearch(manager, r.ID, operator.Name)
	}
	if err == nil {
		_, err = s.RecordResult(operator, r.ID, "found", "", whole(t, s, r.ID)...)
	}
	if err == nil {
		_, err = s.Approve(manager, r.ID, okJudgement)
	}
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.ExportRequest(context.Background(), operator, r.ID, []byte(exportPass), t.TempDir(), nil)
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "request protect") || len(fe.jobs) != 0 {
		t.Fatalf("export without protection: %v", err)
	}
	if e := lastEntry(t, s); e.Action != ActionRequestExportFailed || e.Details["stage"] != "no-protection" {
		t.Fatalf("refusal not ledgered: %+v", e)
	}
}

func TestExportFailureLeavesApproved(t *testing.T) {
	s, fe := newExportStore(t)
	r := approvedRequest(t, s)
	fe.err = errors.New("disk full: no space left on device")
	dir := t.TempDir()
	_, err := s.ExportRequest(context.Background(), operator, r.ID, []byte(exportPass), dir, nil)
	if err == nil || !errors.Is(err, fe.err) {
		t.Fatalf("failing exporter: %v", err)
	}
	e := lastEntry(t, s)
	if e.Action != ActionRequestExportFailed || e.Details["stage"] != "exporter" || !strings.Contains(e.Details["error"], "no space left") {
		t.Fatalf("failure not ledgered: %+v", e)
	}
	got, _ := s.Request(manager, r.ID)
	if got.State != StateApproved || got.Export != nil {
		t.Fatalf("state %s after a failed export", got.State)
	}
	// Retry works once the cause is gone.
	fe.err = nil
	out, err := s.ExportRequest(context.Background(), operator, r.ID, []byte(exportPass), dir, nil)
	if err != nil || out.State != StateExported {
		t.Fatalf("retry: %v %s", err, out.State)
	}
}

func TestExportWithoutEngine(t *testing.T) {
	s, _ := newExportStore(t)
	s.SetExporter(nil)
	r := approvedRequest(t, s)
	_, err := s.ExportRequest(context.Background(), operator, r.ID, []byte(exportPass), t.TempDir(), nil)
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("no exporter: %v", err)
	}
}

// The manifest's proofs always include the request's own steps, however
// many other entries name it (views all day, failed export attempts, which
// no change rate bounds); the rest are the newest, up to the cap.
func TestManifestProvesTheStepsOfARequestFirst(t *testing.T) {
	s, fe := newExportStore(t)
	s.SetLogSigner("test", newHostKey(t))
	r := approvedRequest(t, s)
	err := s.db.Update(func(tx *bolt.Tx) error {
		for i := 0; i < maxAnchoredEntries+200; i++ {
			if _, err := appendEntryAt(tx, t0, operator, ActionView, "cam1", map[string]string{"request": r.ID, "phase": "ended"}); err != nil {
				return err
			}
		}
		_, err := appendEntryAt(tx, t0, operator, ActionRequestExportFailed, r.ID, map[string]string{"stage": "test"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ExportRequest(context.Background(), operator, r.ID, []byte(exportPass), t.TempDir(), nil); err != nil {
		t.Fatal(err)
	}
	proofs := fe.jobs[len(fe.jobs)-1].Proofs
	got := map[Action]int{}
	last := uint64(0)
	for _, p := range proofs {
		e, err := p.Decode()
		if err != nil {
			t.Fatal(err)
		}
		if e.Seq <= last {
			t.Fatalf("proofs not in ledger order at %d", e.Seq)
		}
		last = e.Seq
		got[e.Action]++
	}
	if len(proofs) != maxAnchoredEntries || got[ActionRequestRegister] != 1 || got[ActionRequestInstruct] != 1 ||
		got[ActionRequestResult] != 1 || got[ActionRequestApprove] != 1 || got[ActionRequestProtect] != 1 ||
		got[ActionRequestExportFailed] != 1 {
		t.Fatalf("%d proofs: %v", len(proofs), got)
	}
}

// An export that keeps failing (export_dir's disk full, footage gone) must
// not let one key flood the ledger by trying again and again: the
// console's export form can be submitted any number of times in one
// session. Each attempt counts against the key's change rate; what an
// attempt did is then ledgered whatever the rate.
func TestFailingExportAttemptsHeldToTheChangeRate(t *testing.T) {
	s, fe := newExportStore(t)
	r := approvedRequest(t, s)
	fe.err = errors.New("write /exports: no space left on device")
	limited := 0
	for range 300 {
		_, err := s.ExportRequest(context.Background(), operator, r.ID, []byte(exportPass), t.TempDir(), nil)
		switch {
		case errors.Is(err, ErrLimited):
			limited++
		case err == nil:
			t.Fatal("a failing export succeeded")
		}
	}
	if n := len(entriesOf(t, s, ActionRequestExportFailed)); n > changeBurst+1 || limited == 0 {
		t.Fatalf("300 failing export attempts at once: %d export-failed entries, %d limited; want ≤ %d", n, limited, changeBurst+1)
	}
}
