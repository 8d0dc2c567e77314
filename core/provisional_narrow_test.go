package core

import (
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// When the manager approves, the request's provisional holds shrink to
// what was approved — two ranges on cam1 become two holds, cam2, where
// nothing was approved, is released — in the approval's transaction, each
// change ledgered; the recorder's snapshot holds exactly that.
func TestApprovalNarrowsProvisionalHolds(t *testing.T) {
	s, _, _ := newTestStore(t, CityStandard())
	r := searched(t, s, CityStandard()) // cam1, cam2 over ten minutes
	if len(r.HoldIDs) != 2 {
		t.Fatalf("provisional holds %v, want one per camera", r.HoldIDs)
	}
	a := FoundRange{Camera: "cam1", From: r.From.Add(time.Minute), To: r.From.Add(2 * time.Minute)}
	b := FoundRange{Camera: "cam1", From: r.From.Add(6 * time.Minute), To: r.From.Add(7 * time.Minute)}
	c := FoundRange{Camera: "cam2", From: r.From.Add(3 * time.Minute), To: r.From.Add(4 * time.Minute)}
	if _, err := s.RecordResult(operator, r.ID, "found", "", a, b, c); err != nil {
		t.Fatal(err)
	}
	head := s.LedgerHead()
	app, err := s.Approve(manager, r.ID, ApprovalInput{Judgement: okJudgement.Judgement, Ranges: []FoundRange{a, b}})
	if err != nil {
		t.Fatal(err)
	}

	hs, err := s.Holds(manager)
	if err != nil {
		t.Fatal(err)
	}
	type held struct {
		cam      string
		from, to time.Time
	}
	var active []held
	for _, h := range hs {
		if h.RequestID == r.ID && h.ReleasedAt.IsZero() {
			active = append(active, held{h.Camera, h.From, h.To})
		}
		if h.Camera == "cam2" && (h.ReleasedAt.IsZero() || h.ReleaseReason != ReasonHoldNarrowed) {
			t.Errorf("cam2's hold not released at approval: %+v", h)
		}
	}
	slices.SortFunc(active, func(x, y held) int { return x.from.Compare(y.from) })
	want := []held{{"cam1", a.From, a.To}, {"cam1", b.From, b.To}}
	if !slices.Equal(active, want) {
		t.Fatalf("active provisional holds %+v, want exactly the approved %+v", active, want)
	}
	if len(app.HoldIDs) != 3 {
		t.Fatalf("request's holds %v, want the two first and the one split off", app.HoldIDs)
	}
	var snap []held
	for _, h := range s.ActiveHolds(t0) {
		snap = append(snap, held{h.Camera, h.From, h.To})
	}
	slices.SortFunc(snap, func(x, y held) int { return x.from.Compare(y.from) })
	if !slices.Equal(snap, want) {
		t.Fatalf("recorder's snapshot %+v, want %+v", snap, want)
	}

	// Ledgered in the approval's transaction: the approval, then the
	// hold changes, in one run of entries.
	es, err := s.Ledger(manager, head+1, 100)
	if err != nil {
		t.Fatal(err)
	}
	var acts []Action
	for _, e := range es {
		acts = append(acts, e.Action)
		if e.Action == ActionHoldRelease && (e.Details["reason"] != ReasonHoldNarrowed || e.Details["request"] != r.ID ||
			e.Details["held"] == "" || e.Actor.Fingerprint != manager.Fingerprint) {
			t.Errorf("hold change entry %+v by %s", e.Details, e.Actor.Name)
		}
	}
	if !slices.Equal(acts, []Action{ActionRequestApprove, ActionHoldRelease, ActionHoldAdd, ActionHoldRelease}) {
		t.Fatalf("entries after the result: %v", acts)
	}
}

// The approval and the narrowing are one transaction: when a hold cannot
// be narrowed (its record is damaged), nothing is approved either.
func TestApprovalAndNarrowingAreOneTransaction(t *testing.T) {
	s, _, _ := newTestStore(t, CityStandard())
	r := searched(t, s, CityStandard())
	a := FoundRange{Camera: "cam1", From: r.From.Add(time.Minute), To: r.From.Add(2 * time.Minute)}
	if _, err := s.RecordResult(operator, r.ID, "found", "", a); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bHolds).Put([]byte(r.HoldIDs[1]), []byte("{damaged")) }); err != nil {
		t.Fatal(err)
	}
	head := s.LedgerHead()
	if _, err := s.Approve(manager, r.ID, okJudgement); err == nil {
		t.Fatal("approved although a hold could not be narrowed")
	}
	got, err := s.Request(manager, r.ID)
	if err != nil || got.State != StateSearched || got.Decision != nil {
		t.Fatalf("after the failed approval: %s %+v %v", got.State, got.Decision, err)
	}
	if es, _ := s.Ledger(manager, head+1, 100); len(es) != 0 {
		t.Fatalf("%d entries written by a failed approval", len(es))
	}
}

// Approving what was held changes nothing; a denial lets the holds lapse
// after the grace period, as before.
func TestApprovalOfWholeRangeKeepsHoldsDenialLapses(t *testing.T) {
	s, _, _ := newTestStore(t, CityStandard())
	r := searched(t, s, CityStandard())
	if _, err := s.RecordResult(operator, r.ID, "found", "", whole(t, s, r.ID)...); err != nil {
		t.Fatal(err)
	}
	head := s.LedgerHead()
	if _, err := s.Approve(manager, r.ID, okJudgement); err != nil {
		t.Fatal(err)
	}
	if es, _ := s.Ledger(manager, head+1, 100); len(es) != 1 || es[0].Action != ActionRequestApprove {
		t.Fatalf("approving what was held changed holds: %d entries", len(es))
	}

	d, err := s.RegisterRequest(operator, requestInput("cam1", "cam2"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Deny(manager, d.ID, "不要"); err != nil {
		t.Fatal(err)
	}
	hs, _ := s.Holds(manager)
	n := 0
	for _, h := range hs {
		if h.RequestID != d.ID {
			continue
		}
		n++
		if !h.ReleasedAt.IsZero() || h.Until.After(t0.Add(2*s.Policy().ProvisionalHoldGrace)) {
			t.Fatalf("denied request's hold %+v: want it lapsing after the grace period", h)
		}
	}
	if n != 2 {
		t.Fatalf("denied request has %d holds, want 2", n)
	}
}
