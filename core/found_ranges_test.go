package core

import (
	"errors"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// searched registers a ten-minute request on cam1 and cam2 and takes it
// to an instructed search.
func searched(t *testing.T, s *Store, p Policy) Request {
	t.Helper()
	mustCamera(t, s, "cam1")
	mustCamera(t, s, "cam2")
	in := requestInput("cam1", "cam2")
	in.From, in.To = t0.Add(-time.Hour), t0.Add(-50*time.Minute)
	if p.Regulation == "001" {
		in.Ground = "investigation"
	}
	r, err := s.RegisterRequest(operator, in)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.InstructSearch(manager, r.ID, operator.Name); err != nil {
		t.Fatal(err)
	}
	return r
}

// 000 §9-2, §9-4: the search records, per camera, what was found; the
// approval and the export cover exactly that, or what the manager narrows
// it to — never the whole request by default.
func TestFoundRangesAndExactApproval(t *testing.T) {
	s, _, _ := newTestStore(t, CityStandard())
	r := searched(t, s, CityStandard())
	two := FoundRange{Camera: "cam1", From: r.From.Add(3 * time.Minute), To: r.From.Add(5 * time.Minute)}

	if _, err := s.RecordResult(operator, r.ID, "found", "人物を確認"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("found without ranges: %v", err)
	}
	outside := FoundRange{Camera: "cam1", From: r.To, To: r.To.Add(time.Minute)}
	if _, err := s.RecordResult(operator, r.ID, "found", "", outside); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a range outside the request: %v", err)
	}
	other := FoundRange{Camera: "cam9", From: two.From, To: two.To}
	if _, err := s.RecordResult(operator, r.ID, "found", "", other); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a camera not requested: %v", err)
	}
	if _, err := s.RecordResult(operator, r.ID, "no", "", two); !errors.Is(err, ErrInvalid) {
		t.Fatalf("not found with ranges: %v", err)
	}
	// Two overlapping pieces of the same two minutes are one range.
	a := FoundRange{Camera: "cam1", From: two.From, To: two.From.Add(90 * time.Second)}
	b := FoundRange{Camera: "cam1", From: two.From.Add(time.Minute), To: two.To}
	got, err := s.RecordResult(operator, r.ID, "found", "人物を確認", b, a)
	if err != nil {
		t.Fatal(err)
	}
	if f := got.Result.Found; len(f) != 1 || !f[0].From.Equal(two.From) || !f[0].To.Equal(two.To) || f[0].Camera != "cam1" {
		t.Fatalf("found = %+v, want only %+v", f, two)
	}
	if e := lastEntry(t, s); e.Action != ActionRequestResult || !strings.Contains(e.Details["found"], "cam1 ") ||
		strings.Contains(e.Details["found"], "cam2") {
		t.Fatalf("result entry %+v", e.Details)
	}

	// The manager may not widen what was found, only narrow it.
	wider := FoundRange{Camera: "cam1", From: r.From, To: r.To}
	if _, err := s.Approve(manager, r.ID, ApprovalInput{Judgement: "必要", Ranges: []FoundRange{wider}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("approval wider than found: %v", err)
	}
	cam2 := FoundRange{Camera: "cam2", From: two.From, To: two.To}
	if _, err := s.Approve(manager, r.ID, ApprovalInput{Judgement: "必要", Ranges: []FoundRange{cam2}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("approval of a camera where nothing was found: %v", err)
	}
	app, err := s.Approve(manager, r.ID, okJudgement)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := s.ApprovedRange(operator, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0] != two || len(app.Decision.Ranges) != 1 {
		t.Fatalf("approved %+v, want exactly %+v", rs, two)
	}
	cams, from, to := rangeBounds(rs)
	if len(cams) != 1 || cams[0] != "cam1" || !from.Equal(two.From) || !to.Equal(two.To) {
		t.Fatalf("export job bounds %v %v %v", cams, from, to)
	}
}

func TestManagerNarrowsTheApproval(t *testing.T) {
	s, _, _ := newTestStore(t, CityStandard())
	r := searched(t, s, CityStandard())
	found := []FoundRange{{Camera: "cam1", From: r.From, To: r.From.Add(4 * time.Minute)},
		{Camera: "cam2", From: r.From.Add(time.Minute), To: r.From.Add(2 * time.Minute)}}
	if _, err := s.RecordResult(operator, r.ID, "found", "", found...); err != nil {
		t.Fatal(err)
	}
	narrow := FoundRange{Camera: "cam1", From: r.From.Add(time.Minute), To: r.From.Add(3 * time.Minute)}
	got, err := s.Approve(manager, r.ID, ApprovalInput{Judgement: "必要な2分に限る", Ranges: []FoundRange{narrow}})
	if err != nil {
		t.Fatal(err)
	}
	if rs := got.ApprovedRanges(); len(rs) != 1 || rs[0] != narrow {
		t.Fatalf("approved %+v", rs)
	}
	ap := entriesOf(t, s, ActionRequestApprove) // the narrowed holds' entries follow it
	e := ap[len(ap)-1]
	if e.Action != ActionRequestApprove || e.Details["narrowed_from"] == "" || !strings.Contains(e.Details["ranges"], "cam1") ||
		strings.Contains(e.Details["ranges"], "cam2") {
		t.Fatalf("approve entry %+v", e.Details)
	}
}

// 000 §8: provision only when no one's rights and interests are unduly
// infringed; the approval records that judgement, which is required.
func TestApprovalRecordsJudgement(t *testing.T) {
	s, _, _ := newTestStore(t, CityStandard())
	r := searched(t, s, CityStandard())
	if _, err := s.RecordResult(operator, r.ID, "found", "", whole(t, s, r.ID)...); err != nil {
		t.Fatal(err)
	}
	var fe *FieldError
	if _, err := s.Approve(manager, r.ID, ApprovalInput{Judgement: "  "}); !errors.As(err, &fe) || fe.Field != "judgement" {
		t.Fatalf("approval without judgement: %v", err)
	}
	got, err := s.Approve(manager, r.ID, okJudgement)
	if err != nil {
		t.Fatal(err)
	}
	if got.Decision.Judgement != okJudgement.Judgement {
		t.Fatalf("judgement not stored: %+v", got.Decision)
	}
	e := lastEntry(t, s)
	if e.Details["judgement"] != okJudgement.Judgement || e.Details["judgement_test"] != "undue-infringement" {
		t.Fatalf("approve entry %+v", e.Details)
	}
	// The company template's test is necessity against the purpose (001 §6).
	if CompanyTemplate().Judgement.Code != "necessity" || !strings.Contains(CityStandard().Judgement.Ja, "不当に侵害") {
		t.Error("profiles' judgement tests")
	}
}

// A result recorded before found ranges existed (an upgraded database)
// still approves: it means the whole requested range, as it did.
func TestLegacyResultMeansWholeRange(t *testing.T) {
	s, _, _ := newTestStore(t, CityStandard())
	r := searched(t, s, CityStandard())
	if _, err := s.RecordResult(operator, r.ID, "found", "", whole(t, s, r.ID)...); err != nil {
		t.Fatal(err)
	}
	// Strip the ranges as the old release stored it.
	if err := s.write(func(tx *bolt.Tx) error {
		old, err := getRequest(tx, r.ID)
		if err != nil {
			return err
		}
		old.Result.Found, old.Result.Ranged = nil, false
		return putRequest(tx, old)
	}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Approve(manager, r.ID, okJudgement)
	if err != nil {
		t.Fatal(err)
	}
	if rs := got.ApprovedRanges(); len(rs) != 2 || !rs[0].From.Equal(r.From) || !rs[1].To.Equal(r.To) {
		t.Fatalf("legacy approval %+v", rs)
	}
}

// An "other" result that names no range found nothing to approve: only
// a result from before ranges existed means the whole request.
func TestOtherResultWithoutRangesApprovesNothing(t *testing.T) {
	s, _, _ := newTestStore(t, CityStandard())
	r := searched(t, s, CityStandard())
	if _, err := s.RecordResult(operator, r.ID, "other", "映像が不鮮明"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Approve(manager, r.ID, okJudgement); !errors.Is(err, ErrConflict) {
		t.Fatalf("approved the whole request on an 'other' result without ranges: %v", err)
	}
}

// Each profile offers its own regulation's grounds (000 §8, 001 §6) and
// asks for what they need: a note, the person's consent (001 §6(4)).
func TestGroundsPerPolicy(t *testing.T) {
	city, _, _ := newTestStore(t, CityStandard())
	company, _, _ := newTestStore(t, CompanyTemplate())
	mustCamera(t, city, "cam1")
	mustCamera(t, company, "cam1")
	try := func(s *Store, ground, note, consent string) error {
		in := requestInput("cam1")
		in.Ground, in.GroundNote, in.Consent = ground, note, consent
		_, err := s.RegisterRequest(operator, in)
		return err
	}
	field := func(err error) string {
		var fe *FieldError
		if errors.As(err, &fe) {
			return fe.Field
		}
		return ""
	}
	cases := []struct {
		s                     *Store
		ground, note, consent string
		wantField             string
	}{
		{city, "investigation", "", "", "ground"}, // 001's ground, not 000's
		{city, "law", "", "", ""},
		{city, "internal", "", "", "ground_note"},
		{city, "internal", "事務の遂行に必要", "", ""},
		{city, "consent", "", "", "consent"},
		{city, "consent", "", "本人 山田花子 同意書 2026-04-01", ""},
		{city, "ordinance", "", "", "ground_note"},
		{company, "internal", "x", "", "ground"}, // 000's ground, not 001's
		{company, "investigation", "", "", ""},
		{company, "other", "", "本人の同意書", "ground_note"},
		{company, "other", "地域の行事", "", "consent"},
		{company, "other", "地域の行事", "本人 鈴木一郎 同意書（2026-04-01）", ""},
	}
	for _, c := range cases {
		err := try(c.s, c.ground, c.note, c.consent)
		if got := field(err); got != c.wantField || (c.wantField == "" && err != nil) {
			t.Errorf("%s ground %q note %q consent %q: %v, want field %q", c.s.policy.Regulation, c.ground, c.note, c.consent, err, c.wantField)
		}
	}
	rs, _ := company.Requests(manager)
	var withConsent *Request
	for i := range rs {
		if rs[i].Ground == "other" {
			withConsent = &rs[i]
		}
	}
	if withConsent == nil || withConsent.Consent == "" {
		t.Fatal("consent not stored")
	}
}

// 000 §8: provision only on a written application — the handover needs
// the written request's reference, given at registration or at handover.
func TestProvisionNeedsWrittenApplication(t *testing.T) {
	s, _, _ := newTestStore(t, CityStandard())
	mustCamera(t, s, "cam1")
	in := requestInput("cam1")
	in.WrittenRef = ""
	r, err := s.RegisterRequest(operator, in)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []func() (Request, error){
		func() (Request, error) { return s.InstructSearch(manager, r.ID, operator.Name) },
		func() (Request, error) { return s.RecordResult(operator, r.ID, "found", "", whole(t, s, r.ID)...) },
		func() (Request, error) { return s.Approve(manager, r.ID, okJudgement) },
		func() (Request, error) { return s.RecordExport(operator, r.ID, exportRecord()) },
	} {
		if _, err := step(); err != nil {
			t.Fatal(err)
		}
	}
	p := Provision{Recipient: "Inspector Mori", Agency: "Yotsukaido PS", IDDocType: "police ID"}
	var fe *FieldError
	if _, err := s.RecordProvision(manager, r.ID, p); !errors.As(err, &fe) || fe.Field != "written_ref" {
		t.Fatalf("provision without a written application: %v", err)
	}
	p.WrittenRef = "四署刑第7号"
	if got, err := s.RecordProvision(manager, r.ID, p); err != nil || got.Provision.WrittenRef != "四署刑第7号" {
		t.Fatalf("provision with the written application: %v", err)
	}
}

// Form 3's 作成日 is kept from the first issue; reprints write nothing.
func TestFormIssueDateKept(t *testing.T) {
	s, clk, _ := newTestStore(t, CityStandard())
	mustCamera(t, s, "cam1")
	r, err := s.RegisterRequest(operator, requestInput("cam1"))
	if err != nil {
		t.Fatal(err)
	}
	first, err := s.IssueForm(operator, r.ID, 3)
	if err != nil {
		t.Fatal(err)
	}
	at := first.FormsIssued["3"]
	head := s.LedgerHead()
	clk.Advance(48 * time.Hour)
	again, err := s.IssueForm(manager, r.ID, 3)
	if err != nil || !again.FormsIssued["3"].Equal(at) || at.IsZero() {
		t.Fatalf("reprint changed the date: %v -> %v (%v)", at, again.FormsIssued["3"], err)
	}
	if s.LedgerHead() != head {
		t.Error("a reprint was ledgered")
	}
	if _, err := s.IssueForm(operator, r.ID, 1); !errors.Is(err, ErrInvalid) {
		t.Errorf("form 1 of a request: %v", err)
	}
}
