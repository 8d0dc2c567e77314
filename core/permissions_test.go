package core

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// fixture is a store with something in every state, so each action has
// a valid target.
type fixture struct {
	s                            *Store
	rReg, rIns, rSea, rApp, rExp string
	rDen                         string
	hold, inquiry, grant, opKey  string
	viewer                       Actor
	from, to                     time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	s, _, _ := newTestStore(t, CompanyTemplate())
	s.SetFootage(&fakeFootage{})
	f := &fixture{s: s, from: t0.Add(-2 * time.Hour), to: t0.Add(-time.Hour)}
	mustCamera(t, s, "cam1")
	mustCamera(t, s, "cam2")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	reg := func() string {
		r, err := s.RegisterRequest(operator, requestInput("cam1"))
		must(err)
		return r.ID
	}
	f.rReg = reg()
	f.rIns = reg()
	_, err := s.InstructSearch(manager, f.rIns, operator.Name)
	must(err)
	f.rSea = reg()
	_, err = s.InstructSearch(manager, f.rSea, operator.Name)
	must(err)
	_, err = s.RecordResult(operator, f.rSea, "found", "person seen at 10:05", whole(t, s, f.rSea)...)
	must(err)
	f.rApp = reg()
	_, err = s.InstructSearch(manager, f.rApp, operator.Name)
	must(err)
	_, err = s.RecordResult(operator, f.rApp, "yes", "", whole(t, s, f.rApp)...)
	must(err)
	_, err = s.Approve(manager, f.rApp, okJudgement)
	must(err)
	f.rExp = reg()
	_, err = s.InstructSearch(manager, f.rExp, operator.Name)
	must(err)
	_, err = s.RecordResult(operator, f.rExp, "found", "", whole(t, s, f.rExp)...)
	must(err)
	_, err = s.Approve(manager, f.rExp, okJudgement)
	must(err)
	_, err = s.RecordExport(operator, f.rExp, exportRecord())
	must(err)
	f.rDen = reg()
	_, err = s.Deny(manager, f.rDen, "out of scope")
	must(err)
	h, err := s.AddHold(manager, HoldInput{Camera: "cam1", From: f.from, To: f.to, Until: t0.Add(48 * time.Hour), Reason: "incident"})
	must(err)
	f.hold = h.ID
	q, err := s.RegisterInquiry(operator, InquiryInput{From: "Resident Abe", Summary: "Is my balcony in view?"})
	must(err)
	f.inquiry = q.ID
	k, err := s.EnrollKey(system, "Operator Key", RoleOperator, newAuthorizedKey(t, "op"))
	must(err)
	f.opKey = k.Fingerprint
	g, err := s.GrantViewer(manager, GrantInput{Name: "Resident Abe", AuthorizedKey: newAuthorizedKey(t, "viewer"),
		Cameras: []string{"cam1"}, From: f.from, To: f.to, Until: t0.Add(24 * time.Hour), Reason: "own vehicle damage"})
	must(err)
	f.grant = g.ID
	f.viewer = Actor{Fingerprint: g.Fingerprint, Name: g.Name, Role: RoleViewer}
	return f
}

func exportRecord() ExportRecord {
	return ExportRecord{Path: "/exports/R-1.tar.age", ManifestHash: "ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12",
		Files: []ExportFile{{Name: "cam1.mp4", Camera: "cam1", SHA256: "00", Bytes: 1000}}}
}

// performers call, for every action in the table, the function that
// performs it, with input valid enough to get past validation.
func performers(f *fixture, t *testing.T) map[Action]func(a Actor) error {
	s := f.s
	e1 := func(_ any, err error) error { return err }
	return map[Action]func(Actor) error{
		ActionLogin:  func(a Actor) error { return s.RecordSession(a, ActionLogin, "10.0.0.1:2222", nil) },
		ActionLogout: func(a Actor) error { return s.RecordSession(a, ActionLogout, "10.0.0.1:2222", nil) },
		ActionView: func(a Actor) error {
			return s.AuthorizeView(a, ViewInput{Camera: "cam1", From: f.from, To: f.to, Live: false, Reason: "test"})
		},
		ActionCameraAdd: func(a Actor) error {
			return e1(s.AddCamera(a, Camera{ID: "new-" + a.Role.String(), URL: "rtsp://127.0.0.1/n"}))
		},
		ActionCameraUpdate: func(a Actor) error {
			return e1(s.UpdateCamera(a, Camera{ID: "cam1", Name: "renamed by " + a.Role.String(), URL: "rtsp://127.0.0.1/c"}))
		},
		ActionCameraRemove: func(a Actor) error { return s.RemoveCamera(a, "cam2", "pole replaced") },
		ActionCameraSync: func(a Actor) error {
			return s.SyncCameras(a, []Camera{{ID: "cam9", URL: "rtsp://127.0.0.1/9"}})
		},
		ActionCamerasRead: func(a Actor) error { return e1(s.Cameras(a)) },
		ActionKeyEnroll: func(a Actor) error {
			return e1(s.EnrollKey(a, "New Staff", RoleOperator, newAuthorizedKey(t, "new")))
		},
		ActionKeyRevoke:     func(a Actor) error { return s.RevokeKey(a, f.opKey, "left the section") },
		ActionKeyRoleChange: func(a Actor) error { return s.ChangeKeyRole(a, f.opKey, RoleTechnician) },
		ActionKeysRead:      func(a Actor) error { return e1(s.Keys(a)) },
		ActionRefusedKey: func(a Actor) error {
			return s.recordRefusedKey(a, RefusedKey{Fingerprint: "SHA256:scanner-" + a.Role.String(), RemoteAddr: "203.0.113.9:1"})
		},
		ActionRefusedKeyRead:  func(a Actor) error { return e1(s.RefusedKeys(a)) },
		ActionRequestRegister: func(a Actor) error { return e1(s.RegisterRequest(a, requestInput("cam1"))) },
		ActionRequestInstruct: func(a Actor) error { return e1(s.InstructSearch(a, f.rReg, "Operator Suzuki")) },
		ActionRequestResult:   func(a Actor) error { return e1(s.RecordResult(a, f.rIns, "not-found", "")) },
		ActionRequestApprove:  func(a Actor) error { return e1(s.Approve(a, f.rSea, okJudgement)) },
		ActionRequestDeny:     func(a Actor) error { return e1(s.Deny(a, f.rSea, "insufficient grounds")) },
		ActionRequestExport:   func(a Actor) error { return e1(s.RecordExport(a, f.rApp, exportRecord())) },
		ActionRequestProtect:  func(a Actor) error { return e1(s.ProtectPackage(a, f.rApp, "")) },
		ActionExportFetch: func(a Actor) error {
			return s.RecordFetch(a, FetchRecord{Name: "R-1.mimamori", Protocol: "sftp", Bytes: 1})
		},
		ActionExportErase: func(a Actor) error { return e1(s.SweepExportCopies(a, t0)) },
		ActionRequestProvide: func(a Actor) error {
			return e1(s.RecordProvision(a, f.rExp, Provision{Recipient: "Inspector Mori", Agency: "Yotsukaido PS", IDDocType: "police ID"}))
		},
		ActionRequestClose: func(a Actor) error { return e1(s.CloseRequest(a, f.rDen)) },
		ActionRequestsRead: func(a Actor) error { return e1(s.Requests(a)) },
		ActionHoldAdd: func(a Actor) error {
			return e1(s.AddHold(a, HoldInput{Camera: "cam1", From: f.from, To: f.to, Until: t0.Add(72 * time.Hour), Reason: "complaint"}))
		},
		ActionHoldRelease: func(a Actor) error { return s.ReleaseHold(a, f.hold, "no longer needed") },
		ActionHoldsRead:   func(a Actor) error { return e1(s.Holds(a)) },
		ActionErasure: func(a Actor) error {
			return s.recordErasure(a, Erasure{Camera: "cam1", From: f.from, To: f.to, ErasedAt: t0, Block: 7, Generation: 1, Reason: "retention"})
		},
		ActionRecordingEvent: func(a Actor) error {
			return s.recordEvent(a, RecordingEvent{Camera: "cam1", Kind: "camera-down", At: t0})
		},
		ActionRecordingsRead: func(a Actor) error { return e1(s.Recordings(a, "cam1", f.from, f.to)) },
		ActionHealthRead:     func(a Actor) error { return e1(s.Health(a)) },
		ActionLedgerRead:     func(a Actor) error { return e1(s.Ledger(a, 0, 10)) },
		ActionLedgerVerify:   func(a Actor) error { return e1(s.VerifyLedger(a)) },
		ActionLedgerExport:   func(a Actor) error { return s.ExportLedgerCSV(a, io.Discard, ShowAll) },
		ActionInquiryRegister: func(a Actor) error {
			return e1(s.RegisterInquiry(a, InquiryInput{From: "Resident", Summary: "noise"}))
		},
		ActionInquiryAnswer: func(a Actor) error { return e1(s.AnswerInquiry(a, f.inquiry, "Not in view.")) },
		ActionInquiryClose:  func(a Actor) error { return e1(s.CloseInquiry(a, f.inquiry, "")) },
		ActionInquiriesRead: func(a Actor) error { return e1(s.Inquiries(a)) },
		ActionMaintenance: func(a Actor) error {
			return e1(s.RecordMaintenance(a, MaintenanceInput{Kind: MaintInspection, Camera: "cam1", Performer: "Contractor Co."}))
		},
		ActionDisposal: func(a Actor) error {
			return e1(s.RecordDisposal(a, DisposalInput{Media: "HDD SN123", Method: "physically destroyed", Performer: "Contractor Co."}))
		},
		ActionMaintenanceRead: func(a Actor) error { return e1(s.MaintenanceRecords(a)) },
		ActionViewerGrant: func(a Actor) error {
			return e1(s.GrantViewer(a, GrantInput{Name: "Visitor", AuthorizedKey: newAuthorizedKey(t, "v2"), Cameras: []string{"cam1"},
				From: f.from, To: f.to, Until: t0.Add(time.Hour), Reason: "consent"}))
		},
		ActionViewerRevoke:     func(a Actor) error { return s.RevokeGrant(a, f.grant, "done") },
		ActionGrantsRead:       func(a Actor) error { return e1(s.Grants(a)) },
		ActionExportPassphrase: func(a Actor) error { return s.SetExportPassphrase(a, []byte("correct horse battery")) },
		ActionKeyProfile:       func(a Actor) error { return e1(s.SetKeyProfile(a, f.opKey, "主事", "危機管理室")) },
		ActionPledge:           func(a Actor) error { return e1(s.RecordPledge(a, f.opKey)) },
		ActionFormIssue:        func(a Actor) error { return e1(s.IssueForm(a, f.rReg, 2)) },
		ActionCustody: func(a Actor) error {
			return e1(s.RecordCustody(a, CustodyInput{Location: "本庁舎3階 サーバ室", Cabinet: "施錠保管庫 A", KeyHolder: "Manager Sato", AntiRemoval: "床にボルト固定"}))
		},
		ActionLayoutPlan: func(a Actor) error {
			return e1(s.FileLayoutPlan(a, LayoutInput{Site: "駅北口", FileName: "plan.pdf", Content: []byte("%PDF-1.4 plan")}))
		},
		ActionLedgerCheckpoint: func(a Actor) error { return e1(s.Checkpoint(a)) },
		// Only the migration runner (as system) writes these; nothing to call.
		ActionSchemaMigrate: func(a Actor) error { return s.check(a, ActionSchemaMigrate, "") },
		ActionBackup:        func(a Actor) error { return e1(s.Backup(context.Background(), a, io.Discard)) },
	}
}

// snapshot hashes all state except the ledger (and its head).
func snapshot(t *testing.T, s *Store) [32]byte {
	h := sha256.New()
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			if string(name) == string(bLedger) || string(name) == string(bTlog) {
				return nil
			}
			h.Write(name)
			return b.ForEach(func(k, v []byte) error {
				if string(name) == string(bMeta) && string(k) == string(kLedgerHead) {
					return nil
				}
				h.Write(k)
				h.Write(v)
				return nil
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

func TestEveryActionEnforcesPermissions(t *testing.T) {
	actors := func(f *fixture) map[Role]Actor {
		return map[Role]Actor{
			RoleNone:       {Fingerprint: "SHA256:nobody", Name: "nobody", Role: RoleNone},
			RoleViewer:     f.viewer,
			RoleTechnician: technician,
			RoleOperator:   operator,
			RoleManager:    manager,
			RoleSystem:     system,
		}
	}
	probe := newFixture(t)
	table := performers(probe, t)
	for _, a := range Actions() {
		if table[a] == nil {
			t.Errorf("no performer for action %s: add it to the test", a)
		}
	}
	for _, action := range Actions() {
		action := action
		t.Run(string(action), func(t *testing.T) {
			f := newFixture(t)
			do := performers(f, t)[action]
			if do == nil {
				t.Skip("no performer")
			}
			roles := actors(f)
			for r := RoleNone; r <= RoleSystem; r++ {
				if Allowed(r, action) {
					continue
				}
				before, head := snapshot(t, f.s), f.s.LedgerHead()
				err := do(roles[r])
				if !errors.Is(err, ErrForbidden) {
					t.Fatalf("role %s: want ErrForbidden, got %v", r, err)
				}
				if after := snapshot(t, f.s); after != before {
					t.Fatalf("role %s: state changed on a forbidden %s", r, action)
				}
				if got := f.s.LedgerHead(); got != head+1 {
					t.Fatalf("role %s: ledger grew by %d, want 1 (denied entry)", r, got-head)
				}
				e := lastEntry(t, f.s)
				if e.Action != ActionDenied || e.Details["tried"] != string(action) || e.Actor != roles[r] {
					t.Fatalf("role %s: denied entry %+v", r, e)
				}
			}
			for r := RoleNone; r <= RoleSystem; r++ {
				if !Allowed(r, action) {
					continue
				}
				if err := do(roles[r]); errors.Is(err, ErrForbidden) {
					t.Fatalf("role %s is allowed %s but got %v", r, action, err)
				}
			}
			if rep, err := f.s.VerifyLedger(manager); err != nil || !rep.OK {
				t.Fatalf("ledger after %s: %+v %v", action, rep, err)
			}
		})
	}
}

func TestRoleTable(t *testing.T) {
	// Technicians never see footage, requests or ledger details.
	for _, a := range []Action{ActionView, ActionRecordingsRead, ActionRequestsRead, ActionRequestRegister,
		ActionLedgerRead, ActionLedgerExport, ActionLedgerVerify, ActionRequestExport} {
		if Allowed(RoleTechnician, a) {
			t.Errorf("technician may %s", a)
		}
	}
	// Managers may everything operators may.
	for _, a := range Actions() {
		if Allowed(RoleOperator, a) && !Allowed(RoleManager, a) {
			t.Errorf("operator may %s but manager may not", a)
		}
	}
	if Allowed(RoleNone, ActionLogin) || Allowed(Role(200), ActionLogin) {
		t.Error("no role may log in")
	}
	for _, n := range []string{"manager", "operator", "technician", "viewer"} {
		r, err := ParseRole(n)
		if err != nil || r.String() != n {
			t.Errorf("ParseRole(%s) = %v, %v", n, r, err)
		}
		var u Role
		b, _ := r.MarshalText()
		if err := u.UnmarshalText(b); err != nil || u != r {
			t.Errorf("text round trip %s", n)
		}
	}
	if _, err := ParseRole("system"); !errors.Is(err, ErrInvalid) {
		t.Errorf("system must not be parseable: %v", err)
	}
}
