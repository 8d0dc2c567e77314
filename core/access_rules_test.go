package core

import (
	"errors"
	"testing"
	"time"
)

// A viewer key revoked and granted again must not revive the old grant's
// cameras and range.
func TestOldGrantNotRevived(t *testing.T) {
	s, _, _ := newTestStore(t, CompanyTemplate())
	mustCamera(t, s, "cam1")
	mustCamera(t, s, "cam2")
	ak := newAuthorizedKey(t, "visitor")
	g1, err := s.GrantViewer(manager, GrantInput{Name: "Visitor", AuthorizedKey: ak, Cameras: []string{"cam1"},
		From: t0.Add(-time.Hour), To: t0, Until: t0.Add(time.Hour), Reason: "first"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeKey(manager, g1.Fingerprint, "done"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GrantViewer(manager, GrantInput{Name: "Visitor", AuthorizedKey: ak, Cameras: []string{"cam2"},
		From: t0.Add(-time.Hour), To: t0, Until: t0.Add(time.Hour), Reason: "second"}); err != nil {
		t.Fatal(err)
	}
	k, err := s.LookupKey(g1.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AuthorizeView(k.Actor(), ViewInput{Camera: "cam1", From: t0.Add(-30 * time.Minute), To: t0, Live: false, Reason: "test"}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("view of cam1 under the revoked first grant: %v, want ErrForbidden", err)
	}
	if err := s.AuthorizeView(k.Actor(), ViewInput{Camera: "cam2", From: t0.Add(-30 * time.Minute), To: t0, Live: false, Reason: "test"}); err != nil {
		t.Fatalf("view under the current grant: %v", err)
	}
}

// Only the instructed operator records an operator's search result.
func TestResultByInstructedOperatorOnly(t *testing.T) {
	s, _, _ := newTestStore(t, CityStandard())
	mustCamera(t, s, "cam1")
	r, err := s.RegisterRequest(operator, requestInput("cam1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.InstructSearch(manager, r.ID, operator.Name); err != nil {
		t.Fatal(err)
	}
	other := Actor{Fingerprint: "SHA256:other", Name: "Operator Tanaka", Role: RoleOperator}
	if _, err := s.RecordResult(other, r.ID, "found", "", whole(t, s, r.ID)...); !errors.Is(err, ErrForbidden) {
		t.Fatalf("result by another operator: %v, want ErrForbidden", err)
	}
	if e := lastEntry(t, s); e.Action != ActionDenied {
		t.Fatalf("refusal not ledgered: %s", e.Action)
	}
	if _, err := s.RecordResult(operator, r.ID, "found", "", whole(t, s, r.ID)...); err != nil {
		t.Fatalf("result by the instructed operator: %v", err)
	}
}
