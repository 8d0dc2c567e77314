package core

import (
	"errors"
	"testing"
)

// 000 §5-2: the manager is the head of the responsible section — one
// person. The city profile refuses a second active manager key, and a
// handover moves the role in one step so there is never none.
func TestOneManagerInCityProfile(t *testing.T) {
	s, _, _ := newTestStore(t, CityStandard())
	boss, err := s.EnrollKey(system, "室長 佐藤", RoleManager, newAuthorizedKey(t, "boss"))
	if err != nil {
		t.Fatal(err)
	}
	mgr := boss.Actor()
	if _, err := s.EnrollPerson(mgr, Enrolment{Name: "次長 田中", Role: RoleManager, AuthorizedKey: newAuthorizedKey(t, "deputy"),
		JobTitle: "次長", Section: "危機管理室", Pledged: true}); !errors.Is(err, ErrConflict) {
		t.Fatalf("second manager enrolled: %v", err)
	}
	op, err := s.EnrollPerson(mgr, Enrolment{Name: "主事 鈴木", Role: RoleOperator, AuthorizedKey: newAuthorizedKey(t, "op"),
		JobTitle: "主事", Section: "危機管理室", Pledged: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ChangeKeyRole(mgr, op.Fingerprint, RoleManager); !errors.Is(err, ErrConflict) {
		t.Fatalf("operator promoted next to the manager: %v", err)
	}
	if _, err := s.HandOverManager(op.Actor(), boss.Fingerprint, "異動"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("an operator handed the role over: %v", err)
	}
	bare, err := s.EnrollKey(system, "未記録 担当", RoleOperator, newAuthorizedKey(t, "bare"))
	if err != nil {
		t.Fatal(err)
	}
	var fe *FieldError
	if _, err := s.HandOverManager(mgr, bare.Fingerprint, "異動"); !errors.As(err, &fe) {
		t.Fatalf("handed over to a key without 職名 or pledge: %v", err)
	}
	got, err := s.HandOverManager(mgr, op.Fingerprint, "人事異動 2026-04-01")
	if err != nil {
		t.Fatal(err)
	}
	if got.Role != RoleManager {
		t.Fatalf("handover: %+v", got)
	}
	keys, _ := s.Keys(got.Actor())
	managers := 0
	for _, k := range keys {
		if k.Role == RoleManager && k.Active(s.nowUTC()) {
			managers++
		}
		if k.Fingerprint == boss.Fingerprint && k.RevokedAt.IsZero() {
			t.Error("the handing-over manager's key is still active")
		}
	}
	if managers != 1 {
		t.Fatalf("%d active managers after the handover", managers)
	}
	// The company template leaves the number to the company (001 §3(2)).
	c, _, _ := newTestStore(t, CompanyTemplate())
	for i := range 3 {
		if _, err := c.EnrollKey(system, "manager", RoleManager, newAuthorizedKey(t, "m")); err != nil {
			t.Fatalf("company manager %d: %v", i, err)
		}
	}
}

// 000 §5-2, §6, §11; 001 §3: every key names a person with 職名 and 所属,
// and enrolment records that they accepted the confidentiality pledge,
// which binds them after they leave too.
func TestEnrolmentRecordsPersonAndPledge(t *testing.T) {
	s, _, _ := newTestStore(t, CityStandard())
	boss, err := s.EnrollKey(system, "室長 佐藤", RoleManager, newAuthorizedKey(t, "boss"))
	if err != nil {
		t.Fatal(err)
	}
	mgr := boss.Actor()
	in := Enrolment{Name: "主事 鈴木", Role: RoleOperator, AuthorizedKey: newAuthorizedKey(t, "op"), JobTitle: "主事", Section: "危機管理室"}
	var fe *FieldError
	if _, err := s.EnrollPerson(mgr, in); !errors.As(err, &fe) || fe.Field != "pledge" {
		t.Fatalf("enrolled without the pledge: %v", err)
	}
	if _, err := s.EnrollKey(mgr, "裏口 登録", RoleOperator, newAuthorizedKey(t, "bare")); !errors.As(err, &fe) {
		t.Fatalf("a manager enrolled a bare key (no 職名, 所属, pledge): %v", err)
	}
	in.Pledged, in.JobTitle = true, ""
	if _, err := s.EnrollPerson(mgr, in); !errors.As(err, &fe) || fe.Field != "job_title" {
		t.Fatalf("enrolled without a job title: %v", err)
	}
	in.JobTitle = "主事"
	k, err := s.EnrollPerson(mgr, in)
	if err != nil {
		t.Fatal(err)
	}
	p := CityStandard().Pledge
	if k.JobTitle != "主事" || k.Section != "危機管理室" || k.Pledge == nil || k.Pledge.Version != p.Version ||
		k.Pledge.TextSHA256 != pledgeHash(p) || k.Pledge.Witness != boss.Name {
		t.Fatalf("enrolled %+v pledge %+v", k, k.Pledge)
	}
	e := lastEntry(t, s)
	if e.Action != ActionPledge || e.Details["version"] != p.Version || e.Details["clause"] != "第１１条" {
		t.Fatalf("pledge entry %+v", e)
	}
	if gaps := s.Policy().PersonGaps(k); len(gaps) != 0 {
		t.Fatalf("complete record has gaps %v", gaps)
	}
	// A key from before (bootstrap): the gaps show, and the manager
	// records them later.
	old, err := s.EnrollKey(system, "旧 担当", RoleOperator, newAuthorizedKey(t, "old"))
	if err != nil {
		t.Fatal(err)
	}
	if gaps := s.Policy().PersonGaps(old); len(gaps) != 3 {
		t.Fatalf("bootstrap key gaps %v", gaps)
	}
	if _, err := s.SetKeyProfile(mgr, old.Fingerprint, "主任", "危機管理室"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordPledge(mgr, old.Fingerprint); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordPledge(mgr, old.Fingerprint); !errors.Is(err, ErrConflict) {
		t.Fatalf("second pledge of the same version: %v", err)
	}
	keys, _ := s.Keys(mgr)
	for _, k := range keys {
		if k.Fingerprint == old.Fingerprint && len(s.Policy().PersonGaps(k)) != 0 {
			t.Fatalf("after recording: %+v", k)
		}
	}
	// A changed wording makes earlier acceptances outdated.
	p2 := CityStandard()
	p2.Pledge.Version = "000-11/2"
	if gaps := p2.PersonGaps(k); len(gaps) != 1 || gaps[0] != "pledge-outdated" {
		t.Fatalf("outdated pledge gaps %v", gaps)
	}
}
