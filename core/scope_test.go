package core

import (
	"errors"
	"testing"
	"time"
)

// A forbidden caller gets ErrForbidden before any of its input is looked
// at: every entry point is called with garbage, by every role the
// permission table does not allow, and must answer "forbidden" (not
// "invalid", "not found" or "conflict").
func TestForbiddenBeforeValidation(t *testing.T) {
	f := newFixture(t)
	s := f.s
	bad := "\x1b]0;x\x07\u202e"
	var zero time.Time
	e1 := func(_ any, err error) error { return err }
	calls := map[Action]func(Actor) error{
		ActionCameraAdd:       func(a Actor) error { return e1(s.AddCamera(a, Camera{ID: bad})) },
		ActionCameraUpdate:    func(a Actor) error { return e1(s.UpdateCamera(a, Camera{ID: bad})) },
		ActionCameraRemove:    func(a Actor) error { return s.RemoveCamera(a, bad, "") },
		ActionCamerasRead:     func(a Actor) error { return e1(s.Camera(a, bad)) },
		ActionKeyEnroll:       func(a Actor) error { return e1(s.EnrollKey(a, bad, RoleNone, "junk")) },
		ActionKeyRevoke:       func(a Actor) error { return s.RevokeKey(a, bad, "") },
		ActionKeyRoleChange:   func(a Actor) error { return s.ChangeKeyRole(a, bad, RoleSystem) },
		ActionRequestRegister: func(a Actor) error { return e1(s.RegisterRequest(a, RequestInput{Agency: bad})) },
		ActionRequestInstruct: func(a Actor) error { return e1(s.InstructSearch(a, bad, "")) },
		ActionRequestResult:   func(a Actor) error { return e1(s.RecordResult(a, bad, "maybe", bad)) },
		ActionRequestApprove:  func(a Actor) error { return e1(s.Approve(a, bad, ApprovalInput{})) },
		ActionRequestDeny:     func(a Actor) error { return e1(s.Deny(a, bad, "")) },
		ActionRequestExport:   func(a Actor) error { return e1(s.RecordExport(a, bad, ExportRecord{})) },
		ActionRequestProvide:  func(a Actor) error { return e1(s.RecordProvision(a, bad, Provision{})) },
		ActionRequestClose:    func(a Actor) error { return e1(s.CloseRequest(a, bad)) },
		ActionRequestsRead:    func(a Actor) error { return e1(s.Request(a, bad)) },
		ActionHoldAdd:         func(a Actor) error { return e1(s.AddHold(a, HoldInput{Camera: bad, From: zero})) },
		ActionHoldRelease:     func(a Actor) error { return e1(s.ReleaseRequestHolds(a, bad, "")) },
		ActionInquiryRegister: func(a Actor) error { return e1(s.RegisterInquiry(a, InquiryInput{From: bad})) },
		ActionInquiryAnswer:   func(a Actor) error { return e1(s.AnswerInquiry(a, bad, "")) },
		ActionInquiryClose:    func(a Actor) error { return e1(s.CloseInquiry(a, bad, bad)) },
		ActionMaintenance:     func(a Actor) error { return e1(s.RecordMaintenance(a, MaintenanceInput{Kind: bad})) },
		ActionDisposal:        func(a Actor) error { return e1(s.RecordDisposal(a, DisposalInput{Media: bad})) },
		ActionViewerGrant:     func(a Actor) error { return e1(s.GrantViewer(a, GrantInput{Name: bad})) },
		ActionViewerRevoke:    func(a Actor) error { return s.RevokeGrant(a, bad, "") },
		ActionView:            func(a Actor) error { return s.AuthorizeView(a, ViewInput{Camera: bad}) },
		ActionLedgerRead:      func(a Actor) error { return e1(s.Ledger(a, ^uint64(0), -1)) },
	}
	roles := map[Role]Actor{
		RoleNone:       {Fingerprint: "SHA256:nobody", Name: "nobody", Role: RoleNone},
		RoleViewer:     f.viewer,
		RoleTechnician: technician,
		RoleOperator:   operator,
		RoleManager:    manager,
		RoleSystem:     system,
	}
	for action, call := range calls {
		for r, a := range roles {
			if Allowed(r, action) {
				continue
			}
			head := s.LedgerHead()
			if err := call(a); !errors.Is(err, ErrForbidden) {
				t.Errorf("%s by %s with garbage: %v, want ErrForbidden first", action, r, err)
			}
			// Repeats are counted, not written: one entry for the three.
			_ = call(a)
			_ = call(a)
			if got := s.LedgerHead() - head; got != 1 {
				t.Errorf("%s by %s three times: %d ledger entries, want 1 (coalesced)", action, r, got)
			}
		}
	}
}

// Technicians record inspections only; everything else they try is a
// refusal, ledgered.
func TestTechnicianRecordsInspectionsOnly(t *testing.T) {
	s, clk, _ := newTestStore(t, CompanyTemplate())
	mustCamera(t, s, "cam1")
	if _, err := s.RecordMaintenance(technician, MaintenanceInput{Kind: MaintInspection, Camera: "cam1", Performer: "Contractor"}); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{MaintReplacement, MaintCameraRemoval, MaintSignRemoval, MaintSignPosted} {
		clk.Advance(refusalWindow) // each is written at once, not coalesced
		head := s.LedgerHead()
		_, err := s.RecordMaintenance(technician, MaintenanceInput{Kind: kind, Camera: "cam1", Performer: "Contractor", Notes: "x"})
		if !errors.Is(err, ErrForbidden) {
			t.Errorf("technician recorded %s: %v", kind, err)
		}
		if e := lastEntry(t, s); s.LedgerHead() != head+1 || e.Action != ActionDenied || e.Details["subject"] != kind {
			t.Errorf("refusal of %s not ledgered: %+v", kind, e)
		}
	}
	if c, err := s.Camera(manager, "cam1"); err != nil || c.Status == CameraRemoved {
		t.Fatalf("camera after the technician's attempts: %+v %v", c, err)
	}
}

// Dates outside their field's window are refused, naming the window.
func TestDateWindows(t *testing.T) {
	s, _, _ := newTestStore(t, CompanyTemplate())
	mustCamera(t, s, "cam1")
	y := func(year int) time.Time { return time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC) }
	in := requestInput("cam1")
	for _, c := range []struct {
		name string
		err  error
	}{
		{"received 1970", e2(s.RegisterRequest(operator, func() RequestInput { r := in; r.ReceivedAt = y(1970); return r }()))},
		{"received 2099", e2(s.RegisterRequest(operator, func() RequestInput { r := in; r.ReceivedAt = y(2099); return r }()))},
		{"range 0001–9999", e2(s.RegisterRequest(operator, func() RequestInput { r := in; r.From, r.To = y(1), y(9999); return r }()))},
		{"range of 40 days", e2(s.RegisterRequest(operator, func() RequestInput { r := in; r.From = r.To.Add(-40 * day); return r }()))},
		{"grant until 9999", e2(s.GrantViewer(manager, GrantInput{Name: "V", AuthorizedKey: newAuthorizedKey(t, "v"), Cameras: []string{"cam1"},
			From: in.From, To: in.To, Until: y(9999), Reason: "consent"}))},
		{"grant over 0001–9999", e2(s.GrantViewer(manager, GrantInput{Name: "V", AuthorizedKey: newAuthorizedKey(t, "v"), Cameras: []string{"cam1"},
			From: y(1), To: y(9999), Until: t0.Add(day), Reason: "consent"}))},
		{"maintenance 1900", e2(s.RecordMaintenance(manager, MaintenanceInput{Kind: MaintInspection, Camera: "cam1", Performer: "P", Date: y(1900)}))},
		{"hold until 2099", e2(s.AddHold(manager, HoldInput{Camera: "cam1", From: in.From, To: in.To, Until: y(2099), Reason: "r"}))},
		{"inquiry received 2099", e2(s.RegisterInquiry(operator, InquiryInput{From: "A", Summary: "B", ReceivedAt: y(2099)}))},
	} {
		if !errors.Is(c.err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", c.name, c.err)
		}
	}
}

func e2[T any](_ T, err error) error { return err }

// request instruct names an enrolled, active operator; a technician,
// a manager or nobody is refused, and the result is the key's alone.
func TestInstructNamesAnEnrolledOperator(t *testing.T) {
	s, _, _ := newTestStore(t, CompanyTemplate())
	mustCamera(t, s, "cam1")
	r, err := s.RegisterRequest(operator, requestInput("cam1"))
	if err != nil {
		t.Fatal(err)
	}
	tk, err := s.EnrollKey(system, "Tech Ito", RoleTechnician, newAuthorizedKey(t, "t"))
	if err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"Tech Ito", tk.Fingerprint, "Nobody At All", manager.Name} {
		if _, err := s.InstructSearch(manager, r.ID, who); !errors.Is(err, ErrInvalid) {
			t.Errorf("instructed %q: %v", who, err)
		}
	}
	got, err := s.InstructSearch(manager, r.ID, operator.Fingerprint)
	if err != nil || got.AssignedOperator != operator.Name || got.AssignedOperatorKey != operator.Fingerprint {
		t.Fatalf("instruct by key: %+v %v", got, err)
	}
	// Same name, other key: not the instructed operator.
	impostor := Actor{Fingerprint: "SHA256:impostor", Name: operator.Name, Role: RoleOperator}
	if _, err := s.RecordResult(impostor, r.ID, "not-found", ""); !errors.Is(err, ErrForbidden) {
		t.Fatalf("same name, other key recorded the result: %v", err)
	}
}

// A viewer's grant is their whole world: asking for a camera outside it
// is forbidden whether or not the camera exists (no "not found" to tell
// which cameras there are), and the same for recorded and live views.
func TestViewerCannotProbeCameras(t *testing.T) {
	s, _, _ := newTestStore(t, CompanyTemplate())
	mustCamera(t, s, "cam1")
	mustCamera(t, s, "cam2")
	g, err := s.GrantViewer(manager, GrantInput{Name: "Visitor", AuthorizedKey: newAuthorizedKey(t, "visitor"), Cameras: []string{"cam1"},
		From: t0.Add(-time.Hour), To: t0, Until: t0.Add(time.Hour), Reason: "own bicycle theft"})
	if err != nil {
		t.Fatal(err)
	}
	k, err := s.LookupKey(g.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	v := k.Actor()
	for _, live := range []bool{false, true} {
		errs := map[string]error{}
		for _, cam := range []string{"cam2", "nosuch"} {
			errs[cam] = s.AuthorizeView(v, ViewInput{Camera: cam, From: t0.Add(-30 * time.Minute), To: t0, Live: live, Reason: "test"})
			if !errors.Is(errs[cam], ErrForbidden) {
				t.Errorf("live=%v %s: %v, want forbidden", live, cam, errs[cam])
			}
		}
		if errs["cam2"] != nil && errs["nosuch"] != nil && errs["cam2"].Error() != errs["nosuch"].Error() {
			t.Errorf("live=%v: an existing and a missing camera answer differently: %q / %q", live, errs["cam2"], errs["nosuch"])
		}
	}
}
