package core

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func exportedRequest(t *testing.T, s *Store) Request {
	t.Helper()
	r := approvedRequest(t, s)
	out, err := s.ExportRequest(context.Background(), operator, r.ID, []byte(exportPass), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func eraseEntries(t *testing.T, s *Store, id string) []Entry {
	t.Helper()
	es, err := s.Ledger(manager, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var out []Entry
	for _, e := range es {
		if e.Action == ActionExportErase && e.Subject == id {
			out = append(out, e)
		}
	}
	return out
}

func handover(t *testing.T, s *Store, id string) Request {
	t.Helper()
	r, err := s.RecordProvision(manager, id, Provision{Recipient: "Inspector Mori", Agency: "Yotsukaido PS",
		IDDocType: "police ID", Medium: "USB memory no. 3"})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// After the handover the appliance's copy is erased, with a proof entry.
func TestExportCopyErasedAfterHandover(t *testing.T) {
	s, _ := newExportStore(t)
	r := exportedRequest(t, s)
	path := r.Export.Path
	if ps, _ := s.ExportPackages(operator); len(ps) != 1 || ps[0].RequestID != r.ID {
		t.Fatalf("held packages %+v", ps)
	}
	out := handover(t, s, r.ID)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("package still on the appliance after the handover: %v", err)
	}
	es := eraseEntries(t, s, r.ID)
	if len(es) != 1 || es[0].Details["reason"] != EraseHandedOver || es[0].Details["result"] != "erased" ||
		es[0].Details["bytes"] != "7" || es[0].Actor.Role != RoleSystem {
		t.Fatalf("erasure proof %+v", es)
	}
	if out.Export.ErasedAt.IsZero() || out.Export.EraseReason != EraseHandedOver || out.Provision.Medium != "USB memory no. 3" {
		t.Fatalf("request after handover: %+v %+v", out.Export, out.Provision)
	}
	if ps, _ := s.ExportPackages(operator); len(ps) != 0 {
		t.Fatalf("an erased package is still offered: %+v", ps)
	}
	if _, err := s.ExportPackageByName(operator, "x"); err == nil {
		t.Fatal("unknown name served")
	}
	// The sweep does not record it twice.
	if n, err := s.SweepExportCopies(system, t0.Add(365*24*time.Hour)); err != nil || n != 0 || len(eraseEntries(t, s, r.ID)) != 1 {
		t.Fatalf("second sweep: %d %v", n, err)
	}
}

// A manager's hold keeps the copy after the handover, until it ends.
func TestExportCopyKeptWhileHeld(t *testing.T) {
	s, clk := newExportStoreClock(t)
	r := exportedRequest(t, s)
	h, err := s.AddHold(manager, HoldInput{Camera: "cam1", From: r.From, To: r.To, Until: t0.Add(10 * 24 * time.Hour),
		Reason: "court case"})
	if err != nil {
		t.Fatal(err)
	}
	handover(t, s, r.ID)
	if _, err := os.Stat(r.Export.Path); err != nil {
		t.Fatalf("held package erased at handover: %v", err)
	}
	if n, _ := s.SweepExportCopies(system, t0.Add(24*time.Hour)); n != 0 {
		t.Fatal("held package erased by the sweep")
	}
	if len(eraseEntries(t, s, r.ID)) != 0 {
		t.Fatal("erasure recorded while held")
	}
	clk.Advance(time.Hour)
	if err := s.ReleaseHold(manager, h.ID, "case closed"); err != nil {
		t.Fatal(err)
	}
	if n, err := s.SweepExportCopies(system, t0.Add(2*24*time.Hour)); err != nil || n != 1 {
		t.Fatalf("sweep after release: %d %v", n, err)
	}
	if _, err := os.Stat(r.Export.Path); !os.IsNotExist(err) {
		t.Fatal("package kept after its hold was released")
	}
}

// A copy never handed over goes when the request's footage would have
// expired, once no hold (its provisional ones included) keeps it.
func TestExportCopyErasedAtExpiry(t *testing.T) {
	s, _ := newExportStore(t)
	r := exportedRequest(t, s)
	ret := s.Policy().Retention()
	if n, _ := s.SweepExportCopies(system, r.To.Add(ret-time.Minute)); n != 0 {
		t.Fatal("erased before the footage would have expired")
	}
	if n, _ := s.SweepExportCopies(system, r.To.Add(ret+time.Hour)); n != 0 {
		t.Fatal("erased while the request's provisional hold keeps the footage")
	}
	late := t0.Add(time.Duration(s.Policy().ProvisionalHoldDays+1) * 24 * time.Hour)
	if n, err := s.SweepExportCopies(system, late); err != nil || n != 1 {
		t.Fatalf("sweep after the holds lapsed: %d %v", n, err)
	}
	es := eraseEntries(t, s, r.ID)
	if len(es) != 1 || es[0].Details["reason"] != EraseExpired {
		t.Fatalf("proof %+v", es)
	}
}

// A copy gone before its proof was recorded (a crash between erasing and
// recording, or removed by hand) is recorded as missing, not as erased.
func TestExportCopyMissing(t *testing.T) {
	s, _ := newExportStore(t)
	r := exportedRequest(t, s)
	if err := os.Remove(r.Export.Path); err != nil {
		t.Fatal(err)
	}
	handover(t, s, r.ID)
	es := eraseEntries(t, s, r.ID)
	if len(es) != 1 || es[0].Details["result"] != "missing" {
		t.Fatalf("proof %+v", es)
	}
}

// zeroAndRemove overwrites before unlinking and never follows a symlink.
func TestZeroAndRemove(t *testing.T) {
	dir := t.TempDir()
	target := dir + "/target"
	os.WriteFile(target, []byte("keep me"), 0o600)
	link := dir + "/link.mimamori"
	os.Symlink(target, link)
	if _, err := zeroAndRemove(link); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(target); string(b) != "keep me" {
		t.Fatalf("symlink target changed: %q", b)
	}
	f := dir + "/pkg"
	os.WriteFile(f, make([]byte, 3<<20+5), 0o600)
	// Hold the inode open to see what is left in it after the unlink.
	h, _ := os.Open(f)
	defer h.Close()
	os.WriteFile(f, append(make([]byte, 3<<20), "tail!"...), 0o600)
	n, err := zeroAndRemove(f)
	if err != nil || n != 3<<20+5 {
		t.Fatalf("zeroAndRemove: %d %v", n, err)
	}
	b := make([]byte, 3<<20+5)
	h.ReadAt(b, 0)
	for i, c := range b {
		if c != 0 {
			t.Fatalf("byte %d not zeroed", i)
		}
	}
}

func newExportStoreClock(t *testing.T) (*Store, *clock) {
	t.Helper()
	s, clk, _ := newTestStore(t, CityStandard())
	s.SetFootage(&fakeFootage{})
	mustCamera(t, s, "cam1")
	if err := s.SetExportPassphrase(manager, []byte(exportPass)); err != nil {
		t.Fatal(err)
	}
	s.SetExporter(&fileExporter{})
	return s, clk
}

// A package no request records — an export cut short by a crash (its
// ".NAME.partial"), or one whose record never committed — would outlive
// every retention with no erasure proof. At start the appliance erases
// them, each with a proof, and leaves held packages and other files be.
func TestUnrecordedPackagesErasedWithProof(t *testing.T) {
	s, _ := newExportStore(t)
	dir := t.TempDir()
	r := approvedRequest(t, s)
	held, err := s.ExportRequest(context.Background(), operator, r.ID, []byte(exportPass), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	partial := write(".R-2026-0009-20260101T000000Z.mimamori.partial", "half a package")
	orphan := write("R-2026-0009-20260101T000100Z.mimamori", "a whole package nobody recorded")
	notes := write("notes.txt", "not ours")
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "R-2026-0010-20260101T000000Z.mimamori")); err != nil {
		t.Fatal(err)
	}
	n, err := s.EraseUnrecordedPackages(system, dir)
	if err != nil || n != 3 {
		t.Fatalf("erased %d: %v", n, err)
	}
	for _, p := range []string{partial, orphan, filepath.Join(dir, "R-2026-0010-20260101T000000Z.mimamori")} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s still there: %v", p, err)
		}
	}
	for _, p := range []string{held.Export.Path, notes, "/etc/passwd"} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	es := eraseEntries(t, s, "R-2026-0009")
	if len(es) != 2 || es[0].Details["reason"] != EraseUnrecorded || es[0].Details["result"] != "erased" ||
		es[0].Actor.Role != RoleSystem || es[1].Details["name"] != filepath.Base(orphan) || es[1].Details["bytes"] != "31" {
		t.Fatalf("erasure proofs %+v", es)
	}
	if n, err := s.EraseUnrecordedPackages(system, dir); err != nil || n != 0 {
		t.Fatalf("second sweep: %d %v", n, err)
	}
	if n, err := s.EraseUnrecordedPackages(operator, dir); err == nil || n != 0 {
		t.Fatalf("an operator erased: %d %v", n, err)
	}
}

// A data directory restored elsewhere keeps its packages' names, not
// their paths: the copy in the export dir where it now is must still be
// held (not erased as unrecorded) and, after the handover, really erased
// (not recorded as "missing" while the footage stays).
func TestExportCopyInAMovedExportDir(t *testing.T) {
	s, _ := newExportStore(t)
	r := exportedRequest(t, s) // written to a temporary dir
	moved := t.TempDir()
	path := filepath.Join(moved, filepath.Base(r.Export.Path))
	if err := os.Rename(r.Export.Path, path); err != nil {
		t.Fatal(err)
	}
	s.SetExportDir(moved)
	if n, err := s.EraseUnrecordedPackages(system, moved); err != nil || n != 0 {
		t.Fatalf("a held package erased as unrecorded: %d %v", n, err)
	}
	if ps, _ := s.ExportPackages(operator); len(ps) != 1 || ps[0].Path != path {
		t.Fatalf("held packages %+v", ps)
	}
	handover(t, s, r.ID)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("the copy is still there after the handover: %v", err)
	}
	if es := eraseEntries(t, s, r.ID); len(es) != 1 || es[0].Details["result"] != "erased" || es[0].Details["bytes"] != "7" {
		t.Fatalf("erasure proof %+v", es)
	}
}

// Another request's provisional hold over the same footage keeps that
// request's paperwork going, not this request's copy: an operator must not
// be able to keep a handed-over package on the appliance (and fetchable)
// by registering a second request, which needs no approval. Only a
// manager's hold keeps a copy past its handover or expiry.
func TestExportCopyNotKeptByAnotherRequestsProvisionalHold(t *testing.T) {
	t.Run("handover", func(t *testing.T) {
		s, _ := newExportStore(t)
		r := exportedRequest(t, s)
		other, err := s.RegisterRequest(operator, requestInput("cam1"))
		if err != nil || len(other.HoldIDs) == 0 {
			t.Fatalf("second request: %v, holds %v", err, other.HoldIDs)
		}
		handover(t, s, r.ID)
		if _, err := os.Stat(r.Export.Path); !os.IsNotExist(err) {
			t.Fatalf("package kept after the handover by another request's provisional hold: %v", err)
		}
		if ps, _ := s.ExportPackages(operator); len(ps) != 0 {
			t.Fatalf("a handed-over package is still offered for fetching: %+v", ps)
		}
	})
	t.Run("expiry", func(t *testing.T) {
		s, clk := newExportStoreClock(t)
		r := exportedRequest(t, s)
		// Registered late, so its provisional hold outlives r's own.
		clk.Advance(30 * 24 * time.Hour)
		if _, err := s.RegisterRequest(operator, requestInput("cam1")); err != nil {
			t.Fatal(err)
		}
		late := t0.Add(time.Duration(s.Policy().ProvisionalHoldDays+1) * 24 * time.Hour)
		if n, err := s.SweepExportCopies(system, late); err != nil || n != 1 {
			t.Fatalf("sweep after the request's own holds lapsed, another request's provisional hold active: erased %d, %v", n, err)
		}
		if _, err := os.Stat(r.Export.Path); !os.IsNotExist(err) {
			t.Fatalf("package kept: %v", err)
		}
	})
}

// A copy a manager's hold keeps after the handover stays for the hold's
// sake, not to be copied again: the approval was for the copy that was
// handed over. Only a manager fetches it afterwards (and it is ledgered).
func TestHandedOverCopyFetchedOnlyByAManager(t *testing.T) {
	s, _ := newExportStore(t)
	r := exportedRequest(t, s)
	if _, err := s.AddHold(manager, HoldInput{Camera: "cam1", From: r.From, To: r.To, Until: t0.Add(10 * 24 * time.Hour),
		Reason: "court case"}); err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(r.Export.Path)
	if _, err := s.ExportPackageByName(operator, name); err != nil {
		t.Fatalf("before the handover the operator fetches: %v", err)
	}
	handover(t, s, r.ID)
	if _, err := os.Stat(r.Export.Path); err != nil {
		t.Fatalf("held copy erased: %v", err)
	}
	if _, err := s.ExportPackageByName(operator, name); !errors.Is(err, ErrForbidden) {
		t.Fatalf("operator fetches a handed-over copy: %v", err)
	}
	if err := s.BeginFetch(operator, FetchRecord{Name: name, RequestID: r.ID, Protocol: "sftp"}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("operator begins a fetch of a handed-over copy: %v", err)
	}
	if _, err := s.ExportPackageByName(manager, name); err != nil {
		t.Fatalf("manager fetches the held copy: %v", err)
	}
}
