package core

import (
	"errors"
	"testing"
	"time"
)

func TestAuthorizeViewRoles(t *testing.T) {
	s, _, _ := newTestStore(t, CityStandard())
	mustCamera(t, s, "cam1")
	from, to := t0.Add(-2*time.Hour), t0.Add(-time.Hour)
	for _, a := range []Actor{manager, operator} {
		if err := s.AuthorizeView(a, "cam1", from, to, false); err != nil {
			t.Fatalf("%s range: %v", a.Role, err)
		}
		le := lastEntry(t, s)
		if le.Action != ActionView || le.Subject != "cam1" || le.Details["phase"] != "authorized" ||
			le.Details["from"] != fmtTime(from) || le.Details["live"] != "false" || le.Actor != a {
			t.Fatalf("%s: authorization entry %+v", a.Role, le)
		}
		if err := s.AuthorizeView(a, "cam1", time.Time{}, time.Time{}, true); err != nil {
			t.Fatalf("%s live: %v", a.Role, err)
		}
	}
	head := s.LedgerHead()
	if err := s.AuthorizeView(technician, "cam1", from, to, false); !errors.Is(err, ErrForbidden) {
		t.Fatalf("technician: %v", err)
	}
	if le := lastEntry(t, s); le.Seq != head+1 || le.Action != ActionDenied || le.Subject != string(ActionView) {
		t.Fatalf("technician refusal not ledgered: %+v", le)
	}
	if err := s.AuthorizeView(operator, "nope", from, to, false); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown camera: %v", err)
	}
	if err := s.AuthorizeView(operator, "cam1", to, from, false); !errors.Is(err, ErrInvalid) {
		t.Fatalf("reversed range: %v", err)
	}
	if err := s.AuthorizeView(operator, "../x", from, to, false); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad camera id: %v", err)
	}
}

func TestAuthorizeViewLivePolicy(t *testing.T) {
	p := CityStandard()
	p.LiveViewAllowed = false
	s, _, _ := newTestStore(t, p)
	mustCamera(t, s, "cam1")
	if err := s.AuthorizeView(manager, "cam1", time.Time{}, time.Time{}, true); !errors.Is(err, ErrForbidden) {
		t.Fatalf("live without policy: %v", err)
	}
	if err := s.AuthorizeView(manager, "cam1", t0.Add(-time.Hour), t0, false); err != nil {
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
	if err := s.AuthorizeView(v, "cam1", t0.Add(-30*time.Minute), t0, false); err != nil {
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
		head := s.LedgerHead()
		if err := s.AuthorizeView(v, o.cam, o.from, o.to, o.live); !errors.Is(err, ErrForbidden) {
			t.Fatalf("outside grant %+v: %v", o, err)
		}
		if le := lastEntry(t, s); le.Seq != head+1 || le.Action != ActionDenied {
			t.Fatalf("refusal not ledgered: %+v", le)
		}
	}
	clk.Advance(2 * time.Hour) // the grant expires
	if err := s.AuthorizeView(v, "cam1", t0.Add(-30*time.Minute), t0, false); !errors.Is(err, ErrForbidden) {
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
