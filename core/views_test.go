package core

import (
	"errors"
	"testing"
	"time"
)

func TestAuthorizeViewRoles(t *testing.T) {
	s, _, _ := newTestStore(t, CompanyTemplate()) // operators may view with a reason
	mustCamera(t, s, "cam1")
	from, to := t0.Add(-2*time.Hour), t0.Add(-time.Hour)
	for _, a := range []Actor{manager, operator} {
		if err := s.AuthorizeView(a, ViewInput{Camera: "cam1", From: from, To: to, Live: false, Reason: "test"}); err != nil {
			t.Fatalf("%s range: %v", a.Role, err)
		}
		le := lastEntry(t, s)
		if le.Action != ActionView || le.Subject != "cam1" || le.Details["phase"] != "authorized" ||
			le.Details["from"] != fmtTime(from) || le.Details["live"] != "false" || le.Actor != a {
			t.Fatalf("%s: authorization entry %+v", a.Role, le)
		}
		if err := s.AuthorizeView(a, ViewInput{Camera: "cam1", From: time.Time{}, To: time.Time{}, Live: true, Reason: "test"}); err != nil {
			t.Fatalf("%s live: %v", a.Role, err)
		}
	}
	head := s.LedgerHead()
	if err := s.AuthorizeView(technician, ViewInput{Camera: "cam1", From: from, To: to, Live: false, Reason: "test"}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("technician: %v", err)
	}
	if le := lastEntry(t, s); le.Seq != head+1 || le.Action != ActionDenied || le.Subject != string(ActionView) {
		t.Fatalf("technician refusal not ledgered: %+v", le)
	}
	if err := s.AuthorizeView(operator, ViewInput{Camera: "nope", From: from, To: to, Live: false, Reason: "test"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown camera: %v", err)
	}
	if err := s.AuthorizeView(operator, ViewInput{Camera: "cam1", From: to, To: from, Live: false, Reason: "test"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("reversed range: %v", err)
	}
	if err := s.AuthorizeView(operator, ViewInput{Camera: "../x", From: from, To: to, Live: false, Reason: "test"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad camera id: %v", err)
	}
}

func TestAuthorizeViewLivePolicy(t *testing.T) {
	p := CityStandard()
	p.LiveViewAllowed = false
	s, _, _ := newTestStore(t, p)
	mustCamera(t, s, "cam1")
	if err := s.AuthorizeView(manager, ViewInput{Camera: "cam1", From: time.Time{}, To: time.Time{}, Live: true, Reason: "test"}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("live without policy: %v", err)
	}
	if err := s.AuthorizeView(manager, ViewInput{Camera: "cam1", From: t0.Add(-time.Hour), To: t0, Live: false, Reason: "test"}); err != nil {
		t.Fatalf("recorded range must still work: %v", err)
	}
}

func TestAuthorizeViewViewerGrant(t *testing.T) {
	s, clk, _ := newTestStore(t, CompanyTemplate())
	mustCamera(t, s, "cam1")
	mustCamera(t, s, "cam2")
	g, err := s.GrantViewer(manager, GrantInput{Name: "Visitor", AuthorizedKey: newAuthorizedKey(t, "v"), Cameras: []string{"cam1"},
		From: t0.Add(-time.Hour), To: t0, Until: t0.Add(time.Hour), Reason: "own bicycle"})
	if err != nil {
		t.Fatal(err)
	}
	k, err := s.LookupKey(g.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	v := k.Actor()
	if err := s.AuthorizeView(v, ViewInput{Camera: "cam1", From: t0.Add(-30 * time.Minute), To: t0, Live: false, Reason: "test"}); err != nil {
		t.Fatalf("inside grant: %v", err)
	}
	if le := lastEntry(t, s); le.Details["grant"] != g.ID || le.Details["phase"] != "authorized" {
		t.Fatalf("viewer entry %+v", le)
	}
	outside := []struct {
		cam      string
		from, to time.Time
		live     bool
	}{
		{"cam2", t0.Add(-30 * time.Minute), t0, false},                // camera not granted
		{"cam1", t0.Add(-2 * time.Hour), t0, false},                   // starts before the grant
		{"cam1", t0.Add(-30 * time.Minute), t0.Add(time.Hour), false}, // ends after it
		{"cam1", time.Time{}, time.Time{}, true},                      // grant has no live
	}
	for _, o := range outside {
		clk.Advance(refusalWindow) // not a flood: each refusal is written at once
		head := s.LedgerHead()
		if err := s.AuthorizeView(v, ViewInput{Camera: o.cam, From: o.from, To: o.to, Live: o.live, Reason: "test"}); !errors.Is(err, ErrForbidden) {
			t.Fatalf("outside grant %+v: %v", o, err)
		}
		if le := lastEntry(t, s); le.Seq != head+1 || le.Action != ActionDenied {
			t.Fatalf("refusal not ledgered: %+v", le)
		}
	}
	clk.Advance(2 * time.Hour) // the grant expires
	if err := s.AuthorizeView(v, ViewInput{Camera: "cam1", From: t0.Add(-30 * time.Minute), To: t0, Live: false, Reason: "test"}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("expired grant: %v", err)
	}
}

func TestRecordViewing(t *testing.T) {
	s, _, _ := newTestStore(t, CityStandard())
	mustCamera(t, s, "cam1")
	from, to := t0.Add(-2*time.Hour), t0.Add(-time.Hour)
	rec := ViewRecord{Camera: "cam1", From: from, To: to, Started: t0, Ended: t0.Add(90 * time.Second),
		Bytes: 123456, SessionID: "abc-1"}
	if err := s.RecordViewing(operator, rec); err != nil {
		t.Fatal(err)
	}
	le := lastEntry(t, s)
	want := map[string]string{"phase": "ended", "live": "false", "from": fmtTime(from), "to": fmtTime(to),
		"started": fmtTime(t0), "ended": fmtTime(t0.Add(90 * time.Second)), "bytes": "123456",
		"session": "abc-1", "seconds": "90.000"}
	if le.Action != ActionView || le.Subject != "cam1" || le.Actor != operator {
		t.Fatalf("entry %+v", le)
	}
	for k, v := range want {
		if le.Details[k] != v {
			t.Fatalf("detail %s = %q, want %q (%+v)", k, le.Details[k], v, le.Details)
		}
	}
	live := ViewRecord{Camera: "cam1", Live: true, Started: t0, Ended: t0.Add(time.Second), Bytes: 1}
	if err := s.RecordViewing(manager, live); err != nil {
		t.Fatal(err)
	}
	if le := lastEntry(t, s); le.Details["live"] != "true" || le.Details["from"] != "" {
		t.Fatalf("live entry %+v", le)
	}
	if err := s.RecordViewing(technician, rec); !errors.Is(err, ErrForbidden) {
		t.Fatalf("technician: %v", err)
	}
	bad := []ViewRecord{
		{Camera: "", Started: t0, Ended: t0},
		{Camera: "cam1", Ended: t0},
		{Camera: "cam1", Started: t0, Ended: t0.Add(-time.Second)},
		{Camera: "cam1", Started: t0, Ended: t0, Bytes: -1},
		{Camera: "cam1", From: to, To: from, Started: t0, Ended: t0},
	}
	for _, b := range bad {
		if err := s.RecordViewing(operator, b); !errors.Is(err, ErrInvalid) {
			t.Fatalf("%+v: %v", b, err)
		}
	}
	if r, err := s.VerifyLedger(manager); err != nil || !r.OK {
		t.Fatalf("chain: %+v %v", r, err)
	}
}

func TestRecordForwardRefused(t *testing.T) {
	s, _, _ := newTestStore(t, CityStandard())
	if err := s.RecordForwardRefused(operator, "10.0.0.1:22"); err != nil {
		t.Fatal(err)
	}
	le := lastEntry(t, s)
	if le.Action != ActionDenied || le.Subject != "forward" || le.Details["dest"] != "10.0.0.1:22" || le.Actor != operator {
		t.Fatalf("entry %+v", le)
	}
}

// Every view of recorded footage states its purpose; under the city
// policy an operator's purpose must be a request instructed to them.
func TestViewPurpose(t *testing.T) {
	s, _, _ := newTestStore(t, CityStandard())
	mustCamera(t, s, "cam1")
	mustCamera(t, s, "cam2")
	in := requestInput("cam1")
	r, err := s.RegisterRequest(operator, in)
	if err != nil {
		t.Fatal(err)
	}
	view := func(a Actor, req, reason string, cam string, from, to time.Time) error {
		return s.AuthorizeView(a, ViewInput{Camera: cam, From: from, To: to, Request: req, Reason: reason})
	}
	from, to := in.From, in.To

	// No purpose at all: refused before anything is authorized.
	if err := view(manager, "", "", "cam1", from, to); !errors.Is(err, ErrInvalid) {
		t.Fatalf("manager without purpose: %v", err)
	}
	// A reason is not enough for a city operator.
	if err := view(operator, "", "patrol", "cam1", from, to); !errors.Is(err, ErrInvalid) {
		t.Fatalf("city operator with a reason only: %v", err)
	}
	// A request not (yet) instructed, or instructed to someone else.
	head := s.LedgerHead()
	if err := view(operator, r.ID, "", "cam1", from, to); !errors.Is(err, ErrForbidden) {
		t.Fatalf("request not instructed: %v", err)
	}
	if le := lastEntry(t, s); le.Seq != head+1 || le.Action != ActionDenied {
		t.Fatalf("refusal not ledgered: %+v", le)
	}
	if _, err := s.InstructSearch(manager, r.ID, operator2.Name); err != nil {
		t.Fatal(err)
	}
	if err := view(operator, r.ID, "", "cam1", from, to); !errors.Is(err, ErrForbidden) {
		t.Fatalf("request instructed to another operator: %v", err)
	}
	if _, err := s.InstructSearch(manager, r.ID, operator.Name); err != nil {
		t.Fatal(err)
	}
	// Instructed to this operator: allowed, and the ledger names it.
	if err := view(operator, r.ID, "", "cam1", from, to); err != nil {
		t.Fatalf("instructed request: %v", err)
	}
	if le := lastEntry(t, s); le.Action != ActionView || le.Details["request"] != r.ID || le.Actor != operator {
		t.Fatalf("view entry %+v", le)
	}
	// ... but only its cameras and its range.
	if err := view(operator, r.ID, "", "cam2", from, to); !errors.Is(err, ErrForbidden) {
		t.Fatalf("camera outside the request: %v", err)
	}
	if err := view(operator, r.ID, "", "cam1", from.Add(-time.Minute), to); !errors.Is(err, ErrForbidden) {
		t.Fatalf("range outside the request: %v", err)
	}
	if err := view(operator, "R-nope", "", "cam1", from, to); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown request: %v", err)
	}
	// The manager may view with a reason.
	if err := view(manager, "", "complaint of 3 April", "cam2", from, to); err != nil {
		t.Fatalf("manager with a reason: %v", err)
	}
	if le := lastEntry(t, s); le.Details["reason"] != "complaint of 3 April" || le.Details["request"] != "" {
		t.Fatalf("manager's view entry %+v", le)
	}
	// After the handover is over the request no longer opens its footage.
	if _, err := s.Deny(manager, r.ID, "not needed"); err != nil {
		t.Fatal(err)
	}
	if err := view(operator, r.ID, "", "cam1", from, to); !errors.Is(err, ErrForbidden) {
		t.Fatalf("denied request: %v", err)
	}
	// Live view needs no purpose.
	if err := s.AuthorizeView(operator, ViewInput{Camera: "cam1", Live: true}); err != nil {
		t.Fatalf("live: %v", err)
	}
}

// Under the company policy an operator may view with a reason.
func TestViewPurposeCompany(t *testing.T) {
	s, _, _ := newTestStore(t, CompanyTemplate())
	mustCamera(t, s, "cam1")
	if err := s.AuthorizeView(operator, ViewInput{Camera: "cam1", From: t0.Add(-time.Hour), To: t0}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("no purpose: %v", err)
	}
	if err := s.AuthorizeView(operator, ViewInput{Camera: "cam1", From: t0.Add(-time.Hour), To: t0, Reason: "lost item"}); err != nil {
		t.Fatalf("with a reason: %v", err)
	}
}

// The console can mint a view from one session again and again (the SSH
// "view" command is one per session, bounded by the session rate; the
// console's view form is not). Each authorization is a ledger entry, so
// it is held to the key's change rate like any other change; the end of
// a viewing is a record of what happened and is written whatever the rate.
func TestViewAuthorizationsHeldToTheChangeRate(t *testing.T) {
	s, _, _ := newTestStore(t, CompanyTemplate())
	mustCamera(t, s, "cam1")
	from, to := t0.Add(-2*time.Hour), t0.Add(-time.Hour)
	limited := 0
	for range 500 {
		err := s.AuthorizeView(operator, ViewInput{Camera: "cam1", From: from, To: to, Reason: "loop"})
		switch {
		case errors.Is(err, ErrLimited):
			limited++
		case err != nil:
			t.Fatal(err)
		}
	}
	if n := len(entriesOf(t, s, ActionView)); n > changeBurst+1 || limited == 0 {
		t.Fatalf("500 view authorizations at once: %d view entries, %d limited; want ≤ %d entries", n, limited, changeBurst+1)
	}
	before := len(entriesOf(t, s, ActionView))
	for range 100 {
		if err := s.RecordViewing(operator, ViewRecord{Camera: "cam1", From: from, To: to, Started: t0, Ended: t0.Add(time.Second)}); err != nil {
			t.Fatalf("the end of a viewing over the rate: %v", err)
		}
	}
	if n := len(entriesOf(t, s, ActionView)) - before; n != 100 {
		t.Fatalf("%d of 100 viewing ends recorded", n)
	}
}
