package core

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestKeysLifecycle(t *testing.T) {
	s, _, _ := newTestStore(t, CityStandard())
	ak := newAuthorizedKey(t, "sato@city")
	k, err := s.EnrollKey(system, "Manager Sato", RoleManager, ak)
	if err != nil {
		t.Fatal(err)
	}
	if k.Type != "ssh-ed25519" || k.EnrolledBy != "test" || len(k.Fingerprint) < 10 {
		t.Fatalf("key: %+v", k)
	}
	if _, err := s.EnrollKey(system, "Again", RoleOperator, ak); !errors.Is(err, ErrConflict) {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := s.EnrollKey(system, "X", RoleViewer, newAuthorizedKey(t, "")); !errors.Is(err, ErrInvalid) {
		t.Fatalf("viewer enrol: %v", err)
	}
	if _, err := s.EnrollKey(system, "X", RoleOperator, "ssh-ed25519 AAAAnotbase64"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("garbage key: %v", err)
	}
	got, err := s.LookupKey(k.Fingerprint)
	if err != nil || got.Role != RoleManager || got.Actor().Name != "Manager Sato" {
		t.Fatalf("lookup: %+v %v", got, err)
	}
	if _, err := s.LookupKey("SHA256:unknown"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown: %v", err)
	}
	mgr := got.Actor()
	if err := s.RevokeKey(mgr, k.Fingerprint, "test"); !errors.Is(err, ErrConflict) {
		t.Fatalf("revoking the last manager: %v", err)
	}
	op, err := s.EnrollPerson(mgr, Enrolment{Name: "Operator", Role: RoleOperator, AuthorizedKey: newAuthorizedKey(t, ""),
		JobTitle: "主事", Section: "危機管理室", Pledged: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ChangeKeyRole(mgr, op.Fingerprint, RoleTechnician); err != nil {
		t.Fatal(err)
	}
	if k2, _ := s.LookupKey(op.Fingerprint); k2.Role != RoleTechnician {
		t.Fatalf("role change lost: %+v", k2)
	}
	if err := s.RevokeKey(mgr, op.Fingerprint, "contract ended"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LookupKey(op.Fingerprint); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoked key still logs in: %v", err)
	}
	keys, err := s.Keys(mgr)
	if err != nil || len(keys) != 2+2 { // + the two planted test operators (helpers_test.go)
		t.Fatalf("keys: %v %v", keys, err)
	}
}

func TestRefusedKeysRateLimitedAndCapped(t *testing.T) {
	s, clk, _ := newTestStore(t, CityStandard())
	r := RefusedKey{Fingerprint: "SHA256:scanner", KeyType: "ssh-rsa", RemoteAddr: "203.0.113.5:4000"}
	for i := 0; i < 50; i++ {
		if err := s.RecordRefusedKey(r); err != nil {
			t.Fatal(err)
		}
	}
	rs, _ := s.RefusedKeys(manager)
	if len(rs) != 1 || rs[0].Count != 1 {
		t.Fatalf("within 10 s only one write: %+v", rs)
	}
	clk.Advance(11 * time.Second)
	if err := s.RecordRefusedKey(r); err != nil {
		t.Fatal(err)
	}
	rs, _ = s.RefusedKeys(manager)
	if rs[0].Count != 51 {
		t.Fatalf("count %d, want 51 (suppressed attempts are counted on the next write)", rs[0].Count)
	}
	head := s.LedgerHead()
	for i := 0; i < refusedCap+40; i++ {
		clk.Advance(time.Second)
		if err := s.RecordRefusedKey(RefusedKey{Fingerprint: fmt.Sprintf("SHA256:k%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	rs, _ = s.RefusedKeys(manager)
	if len(rs) != refusedCap {
		t.Fatalf("%d records, cap %d", len(rs), refusedCap)
	}
	if rs[len(rs)-1].Fingerprint != "SHA256:k40" {
		t.Fatalf("oldest kept is %s", rs[len(rs)-1].Fingerprint)
	}
	if s.LedgerHead() != head {
		t.Fatal("refused keys must not grow the ledger")
	}
	// Enrolling a refused key removes it from the list.
	ak := newAuthorizedKey(t, "")
	_, fp, _, _ := ParseKey(ak)
	clk.Advance(time.Second)
	s.RecordRefusedKey(RefusedKey{Fingerprint: fp, AuthorizedKey: ak})
	if _, err := s.EnrollPerson(manager, Enrolment{Name: "New", Role: RoleOperator, AuthorizedKey: ak,
		JobTitle: "主事", Section: "危機管理室", Pledged: true}); err != nil {
		t.Fatal(err)
	}
	rs, _ = s.RefusedKeys(manager)
	for _, r := range rs {
		if r.Fingerprint == fp {
			t.Fatal("enrolled key still listed as refused")
		}
	}
}

func TestCameraSync(t *testing.T) {
	s, _, path := newTestStore(t, CityStandard())
	cams := []Camera{{ID: "cam1", Name: "Gate", URL: "rtsp://user:secret@10.0.0.5/1"}, {ID: "cam2", URL: "rtsp://10.0.0.6/1"}}
	if err := s.SyncCameras(system, cams); err != nil {
		t.Fatal(err)
	}
	if s.LedgerHead() != 2 {
		t.Fatalf("want 2 entries, got %d", s.LedgerHead())
	}
	e := lastEntry(t, s)
	if e.Details["change"] != "add" {
		t.Fatalf("entry %+v", e)
	}
	es, _ := s.Ledger(manager, 1, 1)
	if es[0].Details["url"] != "rtsp://user:xxxxx@10.0.0.5/1" {
		t.Fatalf("credentials in the ledger: %q", es[0].Details["url"])
	}
	if err := s.SyncCameras(system, cams); err != nil || s.LedgerHead() != 2 {
		t.Fatalf("unchanged sync wrote entries: %d %v", s.LedgerHead(), err)
	}
	cams[1].Location = "Station square"
	if err := s.SyncCameras(system, cams); err != nil || s.LedgerHead() != 3 {
		t.Fatalf("one change, one entry: %d %v", s.LedgerHead(), err)
	}
	if d := lastEntry(t, s).Details["location"]; d != " -> Station square" {
		t.Fatalf("diff %q", d)
	}
	if err := s.SyncCameras(system, []Camera{{ID: "bad id!"}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad id: %v", err)
	}
	c, _ := s.Camera(technician, "cam1")
	if c.URL != "" || c.Status != CameraActive {
		t.Fatalf("technician sees %+v", c)
	}
	if err := s.RemoveCamera(manager, "cam2", "relocated"); err != nil {
		t.Fatal(err)
	}
	// Persisted across reopen.
	s.Close()
	s2, err := Open(path, Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	cs, _ := s2.Cameras(manager)
	if len(cs) != 2 || cs[1].Status != CameraRemoved || cs[0].URL != cams[0].URL {
		t.Fatalf("after reopen: %+v", cs)
	}
	if rep, _ := VerifyLedgerFile(path, VerifyOptions{}); rep.OK {
		t.Fatal("verify must not open a db in use")
	}
}

func TestHolds(t *testing.T) {
	s, clk, _ := newTestStore(t, CompanyTemplate())
	mustCamera(t, s, "cam1")
	foot := &fakeFootage{maxHolds: 1}
	s.SetFootage(foot)
	in := HoldInput{Camera: "cam1", From: t0.Add(-time.Hour), To: t0, Until: t0.Add(10 * 24 * time.Hour), Reason: "vandalism report"}
	bad := in
	bad.Reason = ""
	if _, err := s.AddHold(manager, bad); !errors.Is(err, ErrInvalid) {
		t.Fatalf("no reason: %v", err)
	}
	bad = in
	bad.Until = t0.Add(-time.Hour)
	if _, err := s.AddHold(manager, bad); !errors.Is(err, ErrInvalid) {
		t.Fatalf("past until: %v", err)
	}
	bad = in
	bad.Until = t0.Add(1000 * 24 * time.Hour)
	if _, err := s.AddHold(manager, bad); !errors.Is(err, ErrInvalid) {
		t.Fatalf("beyond max extension: %v", err)
	}
	h, err := s.AddHold(manager, in)
	if err != nil {
		t.Fatal(err)
	}
	if act := s.ActiveHolds(clk.Now()); len(act) != 1 || act[0].HoldID != h.ID {
		t.Fatalf("active: %+v", act)
	}
	if _, err := s.AddHold(manager, in); !errors.Is(err, ErrHoldCapacity) || !errors.Is(err, ErrConflict) {
		t.Fatalf("over capacity: %v", err)
	}
	if n := len(s.ActiveHolds(h.Until.Add(time.Second))); n != 0 {
		t.Fatalf("hold active after until: %d", n)
	}
	if err := s.ReleaseHold(manager, h.ID, "case closed"); err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseHold(manager, h.ID, "again"); !errors.Is(err, ErrConflict) {
		t.Fatalf("release twice: %v", err)
	}
	if n := len(s.ActiveHolds(clk.Now())); n != 0 {
		t.Fatalf("released hold active: %d", n)
	}
}

func TestViewerGrant(t *testing.T) {
	s, clk, _ := newTestStore(t, CompanyTemplate())
	mustCamera(t, s, "cam1")
	mustCamera(t, s, "cam2")
	ak := newAuthorizedKey(t, "visitor")
	g, err := s.GrantViewer(manager, GrantInput{Name: "Visitor", AuthorizedKey: ak, Cameras: []string{"cam1"},
		From: t0.Add(-time.Hour), To: t0, Until: t0.Add(time.Hour), Reason: "own bicycle theft"})
	if err != nil {
		t.Fatal(err)
	}
	k, err := s.LookupKey(g.Fingerprint)
	if err != nil || k.Role != RoleViewer {
		t.Fatalf("viewer key: %+v %v", k, err)
	}
	v := k.Actor()
	if err := s.AuthorizeView(v, ViewInput{Camera: "cam1", From: t0.Add(-30 * time.Minute), To: t0, Live: false, Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	if le := lastEntry(t, s); le.Action != ActionView || le.Details["grant"] != g.ID {
		t.Fatalf("view entry %+v", le)
	}
	for _, vi := range []ViewInput{{Camera: "cam2", From: t0.Add(-time.Hour), To: t0}, {Camera: "cam1", From: t0.Add(-2 * time.Hour), To: t0},
		{Camera: "cam1", Live: true}} {
		if err := s.AuthorizeView(v, ViewInput{Camera: vi.Camera, From: vi.From, To: vi.To, Live: vi.Live, Reason: "test"}); !errors.Is(err, ErrForbidden) {
			t.Fatalf("outside grant %+v: %v", vi, err)
		}
	}
	clk.Advance(2 * time.Hour)
	if _, err := s.LookupKey(g.Fingerprint); !errors.Is(err, ErrNotFound) {
		t.Fatalf("expired viewer key: %v", err)
	}
	city, _, _ := newTestStore(t, CityStandard())
	if _, err := city.GrantViewer(manager, GrantInput{}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("city policy grant: %v", err)
	}
}

func TestInquiriesAndMaintenance(t *testing.T) {
	s, _, _ := newTestStore(t, CityStandard())
	mustCamera(t, s, "cam1")
	q, err := s.RegisterInquiry(operator, InquiryInput{From: "Resident", Channel: "phone", Summary: "Camera points at my window"})
	if err != nil {
		t.Fatal(err)
	}
	if q, err = s.AnswerInquiry(manager, q.ID, "Masked in the ring; direction adjusted."); err != nil || q.State != InquiryAnswered {
		t.Fatalf("answer: %+v %v", q, err)
	}
	if q, err = s.CloseInquiry(manager, q.ID, "resident satisfied"); err != nil || q.ClosedAt.IsZero() {
		t.Fatalf("close: %+v %v", q, err)
	}
	if _, err := s.CloseInquiry(manager, q.ID, ""); !errors.Is(err, ErrConflict) {
		t.Fatalf("close twice: %v", err)
	}
	if _, err := s.RecordMaintenance(manager, MaintenanceInput{Kind: "repaint", Performer: "x"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad kind: %v", err)
	}
	m, err := s.RecordMaintenance(technician, MaintenanceInput{Kind: MaintInspection, Camera: "cam1", Performer: "Contractor"})
	if err != nil || m.ID != "M-2026-0001" {
		t.Fatalf("maintenance: %+v %v", m, err)
	}
	d, err := s.RecordDisposal(manager, DisposalInput{Media: "HDD SN9", Method: "degaussed and drilled", Performer: "Contractor"})
	if err != nil || d.Kind != MaintDisposal {
		t.Fatalf("disposal: %+v %v", d, err)
	}
	if le := lastEntry(t, s); le.Details["method"] != "degaussed and drilled" {
		t.Fatalf("entry %+v", le)
	}
	ms, _ := s.MaintenanceRecords(technician)
	if len(ms) != 2 {
		t.Fatalf("records %d", len(ms))
	}
}

func TestExportPassphrase(t *testing.T) {
	s, _, _ := newTestStore(t, CityStandard())
	if s.CheckExportPassphrase([]byte("anything at all")) {
		t.Fatal("no passphrase set yet")
	}
	if err := s.SetExportPassphrase(manager, []byte("short")); !errors.Is(err, ErrInvalid) {
		t.Fatalf("short: %v", err)
	}
	pass := []byte("tsukushi-no-oka 2026")
	if err := s.SetExportPassphrase(manager, pass); err != nil {
		t.Fatal(err)
	}
	if !s.CheckExportPassphrase(pass) || s.CheckExportPassphrase([]byte("tsukushi-no-oka 2027")) {
		t.Fatal("check")
	}
	es, _ := s.Ledger(manager, 0, 0)
	for _, e := range es {
		for _, v := range e.Details {
			if v == string(pass) {
				t.Fatal("passphrase in the ledger")
			}
		}
	}
}

func TestSubscribe(t *testing.T) {
	s, _, _ := newTestStore(t, CityStandard())
	ctx, cancel := context.WithCancel(context.Background())
	ch := s.Subscribe(ctx)
	slow := s.Subscribe(context.Background()) // never read: must not block writers
	mustCamera(t, s, "cam1")
	select {
	case c := <-ch:
		if c.Seq != 1 || c.Action != ActionCameraAdd || c.Subject != "cam1" {
			t.Fatalf("change %+v", c)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no change published")
	}
	for i := 0; i < subBuffer+20; i++ {
		if err := s.RecordSession(operator, ActionLogin, "x", nil); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	for range ch { // closed after cancel
	}
	if len(slow) != subBuffer {
		t.Fatalf("slow subscriber buffer %d", len(slow))
	}
	s.Close()
	for range slow { // closed by Close
	}
}

func TestOpenTimesOutWhenLocked(t *testing.T) {
	_, _, path := newTestStore(t, CityStandard())
	if _, err := Open(path, Options{Logger: quietLogger()}); err == nil {
		t.Fatal("second Open must fail (file lock)")
	}
}

func TestGroupCommitIsolatesFailures(t *testing.T) {
	s, _, _ := newTestStore(t, CityStandard())
	const n = 40
	errs := make([]error, n)
	done := make(chan int, n)
	for i := 0; i < n; i++ {
		go func(i int) {
			// Every id is added twice: exactly one of each pair wins.
			_, errs[i] = s.AddCamera(manager, Camera{ID: fmt.Sprintf("cam%d", i/2), URL: "rtsp://h/x"})
			done <- i
		}(i)
	}
	for i := 0; i < n; i++ {
		<-done
	}
	ok, conflict := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, ErrConflict):
			conflict++
		default:
			t.Fatalf("unexpected %v", err)
		}
	}
	if ok != n/2 || conflict != n/2 || s.LedgerHead() != n/2 {
		t.Fatalf("ok %d conflict %d entries %d", ok, conflict, s.LedgerHead())
	}
	if rep, _ := s.VerifyLedger(manager); !rep.OK {
		t.Fatalf("%+v", rep)
	}
	s.Close()
	if err := s.RecordSession(operator, ActionLogin, "x", nil); !errors.Is(err, errStoreClosed) {
		t.Fatalf("write after close: %v", err)
	}
}
