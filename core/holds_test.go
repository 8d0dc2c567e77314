package core

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// Operators' provisional holds fill the share; the manager's own hold is
// still placed, because it is checked against managers' holds only.
func TestProvisionalHoldsCannotBlockManagersHold(t *testing.T) {
	s, _, _ := newTestStore(t, CityStandard())
	mustCamera(t, s, "cam1")
	mustCamera(t, s, "cam2")
	f := &fakeFootage{maxHolds: 2}
	s.SetFootage(f)
	in := requestInput("cam1", "cam2")
	r, err := s.RegisterRequest(operator, in)
	if err != nil || len(r.HoldIDs) != 2 {
		t.Fatalf("first request: %v %v", r.HoldIDs, err)
	}
	// The share is full for provisional holds now.
	r2, err := s.RegisterRequest(operator2, in)
	if err != nil || len(r2.HoldIDs) != 0 {
		t.Fatalf("second request placed %v (%v); the share was full", r2.HoldIDs, err)
	}
	h, err := s.AddHold(manager, HoldInput{Camera: "cam1", From: in.From, To: in.To, Until: t0.Add(72 * time.Hour), Reason: "complaint"})
	if err != nil || h.Kind != HoldExtension {
		t.Fatalf("manager's hold blocked by provisional holds: %v", err)
	}
	// Managers' holds still have a share of their own.
	if _, err := s.AddHold(manager, HoldInput{Camera: "cam2", From: in.From, To: in.To, Until: t0.Add(72 * time.Hour), Reason: "b"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddHold(manager, HoldInput{Camera: "cam2", From: in.From, To: in.To, Until: t0.Add(72 * time.Hour), Reason: "c"}); !errors.Is(err, ErrConflict) {
		t.Fatalf("third manager hold beyond the share: %v", err)
	}
}

// Provisional holds are cut at now, capped per request and per key, and
// a manager releases all of a request's holds in one act.
func TestProvisionalHoldBounds(t *testing.T) {
	s, clk, _ := newTestStore(t, CityStandard())
	var cams []string
	for i := 1; i <= maxProvisionalPerRequest+2; i++ {
		id := fmt.Sprintf("c%d", i)
		mustCamera(t, s, id)
		cams = append(cams, id)
	}
	in := requestInput(cams...)
	in.To = t0.Add(12 * time.Hour) // not recorded yet
	r, err := s.RegisterRequest(operator, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.HoldIDs) != maxProvisionalPerRequest {
		t.Fatalf("%d provisional holds for one request (cap %d)", len(r.HoldIDs), maxProvisionalPerRequest)
	}
	hs, err := s.Holds(manager)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		if h.To.After(t0.Add(time.Minute)) || h.Until.After(t0.Add(61*24*time.Hour)) || h.CreatedByKey != operator.Fingerprint {
			t.Fatalf("provisional hold not bounded: %+v", h)
		}
	}
	// Per key: after maxProvisionalPerKey holds, further requests place none.
	in = requestInput("c1")
	for i := 0; i < maxProvisionalPerKey; i++ {
		clk.Advance(changeEvery) // within the per-key change rate
		if _, err := s.RegisterRequest(operator, in); err != nil {
			t.Fatal(err)
		}
	}
	last, err := s.RegisterRequest(operator, in)
	if err != nil || len(last.HoldIDs) != 0 {
		t.Fatalf("per-key cap: %v %v", last.HoldIDs, err)
	}
	if other, err := s.RegisterRequest(operator2, in); err != nil || len(other.HoldIDs) != 1 {
		t.Fatalf("another operator is not limited by the first one's cap: %v %v", other.HoldIDs, err)
	}
	// One act releases them all.
	if _, err := s.ReleaseRequestHolds(operator, r.ID, "x"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("operator released: %v", err)
	}
	head := s.LedgerHead()
	ids, err := s.ReleaseRequestHolds(manager, r.ID, "request withdrawn")
	if err != nil || len(ids) != maxProvisionalPerRequest {
		t.Fatalf("release all: %v %v", ids, err)
	}
	if got := s.LedgerHead() - head; got != uint64(len(ids)) {
		t.Fatalf("%d entries for %d releases", got, len(ids))
	}
	if _, err := s.ReleaseRequestHolds(manager, r.ID, "again"); !errors.Is(err, ErrConflict) {
		t.Fatalf("second release: %v", err)
	}
}

// One key's changes are rate-limited; the refusals are coalesced, and
// other keys are not affected.
func TestChangeRatePerKey(t *testing.T) {
	s, clk, _ := newTestStore(t, CityStandard())
	mustCamera(t, s, "cam1")
	in := requestInput("cam1")
	var limited int
	head := s.LedgerHead()
	for i := 0; i < changeBurst+40; i++ {
		if _, err := s.RegisterRequest(operator, in); errors.Is(err, ErrLimited) {
			limited++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if limited != 40 {
		t.Fatalf("%d of %d changes limited, want 40", limited, changeBurst+40)
	}
	// changeBurst requests (each with its provisional hold entry) and one
	// refusal entry; the other 39 refusals wait to be counted.
	if grew := s.LedgerHead() - head; grew != 2*changeBurst+1 {
		t.Fatalf("ledger grew by %d", grew)
	}
	if _, err := s.RegisterRequest(operator2, in); err != nil {
		t.Fatalf("another key limited: %v", err)
	}
	clk.Advance(changeEvery)
	if _, err := s.RegisterRequest(operator, in); err != nil {
		t.Fatalf("after the refill: %v", err)
	}
	clk.Advance(refusalWindow)
	s.flushRefusals(false)
	e := lastEntry(t, s)
	if e.Action != ActionDenied || e.Details["count"] != "39" || e.Details["reason"] != "change rate" {
		t.Fatalf("coalesced refusal %+v", e)
	}
}
