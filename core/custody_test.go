package core

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// 000 §7-3, 001 §5-1: where the recorder is kept, its lockable cabinet and
// who keeps the key. The appliance records it; every change is a record
// and a ledger entry, the newest first.
func TestCustodyHistory(t *testing.T) {
	s, clk, _ := newTestStore(t, CityStandard())
	in := CustodyInput{Location: "本庁舎3階 サーバ室", Cabinet: "施錠保管庫 A-1", KeyHolder: "Manager Sato", AntiRemoval: "床にボルト固定"}
	if _, err := s.RecordCustody(operator, in); !errors.Is(err, ErrForbidden) {
		t.Fatalf("operator recorded custody: %v", err)
	}
	bad := in
	bad.KeyHolder = ""
	var fe *FieldError
	if _, err := s.RecordCustody(manager, bad); !errors.As(err, &fe) || fe.Field != "key_holder" {
		t.Fatalf("custody without key holder: %v", err)
	}
	first, err := s.RecordCustody(manager, in)
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(24 * time.Hour)
	in.KeyHolder = "Deputy Tanaka"
	second, err := s.RecordCustody(manager, in)
	if err != nil {
		t.Fatal(err)
	}
	e := lastEntry(t, s)
	if e.Action != ActionCustody || e.Details["key_holder"] != "Deputy Tanaka" || e.Details["previous"] != first.ID {
		t.Fatalf("custody entry %+v", e)
	}
	cs, err := s.Custody(technician)
	if err != nil || len(cs) != 2 || cs[0].ID != second.ID {
		t.Fatalf("custody list %+v %v", cs, err)
	}
}

// 001 §8-1: periodic inspection. The schedule counts from installation
// or the last inspection (of the camera or of the whole appliance) and
// says when one is due soon or overdue.
func TestInspectionSchedule(t *testing.T) {
	p := CompanyTemplate()
	p.InspectionIntervalDays = 30
	s, clk, _ := newTestStore(t, p)
	mustCamera(t, s, "cam1")
	mustCamera(t, s, "cam2")
	state := func(cam string) string {
		t.Helper()
		ds, err := s.InspectionSchedule(technician)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			if d.Camera == cam {
				return d.State
			}
		}
		t.Fatalf("no schedule for %s: %+v", cam, ds)
		return ""
	}
	if state("cam1") != InspectionOK {
		t.Fatal("a new camera is not due")
	}
	clk.Advance(20 * 24 * time.Hour)
	if state("cam1") != InspectionDueSoonState {
		t.Fatal("not due soon 10 days before")
	}
	clk.Advance(11 * 24 * time.Hour)
	if state("cam1") != InspectionOverdue {
		t.Fatal("not overdue after 31 days")
	}
	if _, err := s.RecordMaintenance(technician, MaintenanceInput{Kind: MaintInspection, Camera: "cam1", Performer: "保守会社"}); err != nil {
		t.Fatal(err)
	}
	if state("cam1") != InspectionOK || state("cam2") != InspectionOverdue {
		t.Fatal("a camera's inspection resets only that camera")
	}
	if _, err := s.RecordMaintenance(technician, MaintenanceInput{Kind: MaintInspection, Performer: "保守会社", Notes: "全体点検"}); err != nil {
		t.Fatal(err)
	}
	if state("cam2") != InspectionOK {
		t.Fatal("an appliance-wide inspection covers every camera")
	}
	if _, err := s.InspectionSchedule(operator); !errors.Is(err, ErrForbidden) {
		t.Fatalf("operator read the schedule: %v", err)
	}
	p.InspectionIntervalDays = 0
	none, _, _ := newTestStore(t, p)
	mustCamera(t, none, "cam1")
	if ds, err := none.InspectionSchedule(manager); err != nil || len(ds) != 0 {
		t.Fatalf("no interval, schedule %+v %v", ds, err)
	}
}

// 001 §2-1 (配置図): a site's layout plan is kept in the database, its
// SHA-256 in the ledger, and a changed stored file is caught.
func TestLayoutPlanKeptWithHash(t *testing.T) {
	s, _, _ := newTestStore(t, CompanyTemplate())
	mustCamera(t, s, "cam1")
	body := append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte("配置図"), 1000)...)
	sum := sha256.Sum256(body)
	if _, err := s.FileLayoutPlan(technician, LayoutInput{Site: "駅北口", FileName: "plan.pdf", Content: body}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("technician filed a plan: %v", err)
	}
	for _, bad := range []LayoutInput{
		{Site: "駅北口", FileName: "../etc/passwd", Content: body},
		{Site: "駅北口", FileName: "plan.pdf"},
		{Site: "駅北口", FileName: "big.pdf", Content: make([]byte, MaxLayoutPlanBytes+1)},
		{Site: "駅北口", FileName: "plan.pdf", Content: body, Cameras: []string{"nosuch"}},
	} {
		if _, err := s.FileLayoutPlan(manager, bad); err == nil {
			t.Errorf("filed %q (%d bytes, cameras %v)", bad.FileName, len(bad.Content), bad.Cameras)
		}
	}
	p, err := s.FileLayoutPlan(manager, LayoutInput{Site: "駅北口", FileName: "plan.pdf", Content: body, Cameras: []string{"cam1"}})
	if err != nil {
		t.Fatal(err)
	}
	if p.SHA256 != hex.EncodeToString(sum[:]) || p.Bytes != int64(len(body)) {
		t.Fatalf("plan %+v", p)
	}
	if e := lastEntry(t, s); e.Action != ActionLayoutPlan || e.Details["sha256"] != p.SHA256 || e.Details["site"] != "駅北口" {
		t.Fatalf("layout entry %+v", e)
	}
	got, file, err := s.LayoutPlanFile(technician, p.ID)
	if err != nil || !bytes.Equal(file, body) || got.ID != p.ID {
		t.Fatalf("read back: %v", err)
	}
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bLayoutFiles).Put([]byte(p.ID), []byte("%PDF-1.4 another drawing"))
	}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.LayoutPlanFile(manager, p.ID); err == nil || !strings.Contains(err.Error(), "SHA-256") {
		t.Fatalf("changed stored plan not caught: %v", err)
	}
}

// What the regulation expects and the records lack shows as warnings: a
// city camera with no sign (000 §4-3) or police consultation (000 §4-2),
// no custody record or a key holder who is not the manager (000 §7-3),
// people without 職名 or pledge, and under 001 cameras on no layout plan.
func TestComplianceWarnings(t *testing.T) {
	s, _, _ := newTestStore(t, CityStandard())
	boss, err := s.EnrollPerson(system, Enrolment{Name: "室長 佐藤", Role: RoleManager, AuthorizedKey: newAuthorizedKey(t, "b"),
		JobTitle: "室長", Section: "危機管理室", Pledged: true})
	if err != nil {
		t.Fatal(err)
	}
	mgr := boss.Actor()
	if err := s.SyncCameras(system, []Camera{{ID: "cam1", URL: "rtsp://127.0.0.1/1"},
		{ID: "cam2", URL: "rtsp://127.0.0.1/2", SignPosted: true, PoliceConsulted: t0.Add(-24 * time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	codes := func(a Actor) map[string]string {
		t.Helper()
		ws, err := s.ComplianceWarnings(a)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, w := range ws {
			out[w.Code+":"+w.Subject] = w.Clause
		}
		return out
	}
	got := codes(technician)
	for k, clause := range map[string]string{"sign-missing:cam1": "000 §4-3", "police-missing:cam1": "000 §4-2", "custody-missing:": "000 §7-3"} {
		if got[k] != clause {
			t.Errorf("warning %s = %q, want clause %q (all: %v)", k, got[k], clause, got)
		}
	}
	if _, ok := got["sign-missing:cam2"]; ok {
		t.Error("cam2 has a sign")
	}
	if _, err := s.RecordCustody(mgr, CustodyInput{Location: "サーバ室", Cabinet: "保管庫", KeyHolder: "総務課 山本", AntiRemoval: "固定"}); err != nil {
		t.Fatal(err)
	}
	if _, ok := codes(mgr)["custody-key-holder:"]; !ok {
		t.Error("a key holder who is not the manager is not flagged (000 §7-3)")
	}
	if _, err := s.RecordCustody(mgr, CustodyInput{Location: "サーバ室", Cabinet: "保管庫", KeyHolder: boss.Name, AntiRemoval: "固定"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordMaintenance(mgr, MaintenanceInput{Kind: MaintSignPosted, Camera: "cam1", Performer: "市職員"}); err != nil {
		t.Fatal(err)
	}
	c, _ := s.Camera(mgr, "cam1")
	c.PoliceConsulted = t0
	if _, err := s.UpdateCamera(mgr, c); err != nil {
		t.Fatal(err)
	}
	if _, err := s.EnrollKey(system, "旧 担当", RoleOperator, newAuthorizedKey(t, "o")); err != nil {
		t.Fatal(err)
	}
	got = codes(mgr)
	if len(got) != 1 || got["person-incomplete:"] == "" {
		t.Fatalf("after the records: %v", got)
	}
	// A removed camera needs no sign.
	if err := s.RemoveCamera(mgr, "cam2", "撤去"); err != nil {
		t.Fatal(err)
	}

	// The company template: no sign/police rule of 000, but a layout plan
	// per site (001 §2-1).
	co, _, _ := newTestStore(t, CompanyTemplate())
	mustCamera(t, co, "cam1")
	ws, _ := co.ComplianceWarnings(manager)
	has := map[string]bool{}
	for _, w := range ws {
		has[w.Code] = true
	}
	if has[WarnSignMissing] || !has[WarnLayoutMissing] || !has[WarnOrganization] || !has[WarnCustodyMissing] {
		t.Fatalf("company warnings %v", has)
	}
}
