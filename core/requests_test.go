package core

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRequestHappyPath(t *testing.T) {
	s, clk, _ := newTestStore(t, CompanyTemplate())
	mustCamera(t, s, "cam1")
	mustCamera(t, s, "cam2")
	r, err := s.RegisterRequest(operator, requestInput("cam1", "cam2"))
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != "R-2026-0001" || r.State != StateRegistered || len(r.HoldIDs) != 2 {
		t.Fatalf("registered: %+v", r)
	}
	act := s.ActiveHolds(clk.Now())
	if len(act) != 2 || act[0].From != r.From || act[0].To != r.To {
		t.Fatalf("provisional holds: %+v", act)
	}
	steps := []func() (Request, error){
		func() (Request, error) { return s.InstructSearch(manager, r.ID, operator.Name) },
		func() (Request, error) {
			return s.RecordResult(operator, r.ID, "found", "subject visible 10:02-10:05", whole(t, s, r.ID)...)
		},
		func() (Request, error) { return s.Approve(manager, r.ID, okJudgement) },
		func() (Request, error) { return s.RecordExport(operator, r.ID, exportRecord()) },
		func() (Request, error) {
			return s.RecordProvision(manager, r.ID, Provision{Recipient: "Inspector Mori", Agency: "Yotsukaido PS", IDDocType: "police ID card"})
		},
		func() (Request, error) { return s.CloseRequest(manager, r.ID) },
	}
	want := []RequestState{StateInstructed, StateSearched, StateApproved, StateExported, StateProvided, StateClosed}
	for i, st := range steps {
		got, err := st()
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got.State != want[i] {
			t.Fatalf("step %d: state %s want %s", i, got.State, want[i])
		}
	}
	got, err := s.Request(operator, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.History) != 7 || got.History[2].By != operator.Name || got.History[3].By != manager.Name {
		t.Fatalf("history: %+v", got.History)
	}
	if got.AssignedOperator != operator.Name || got.Result.Outcome != "found" || !got.Decision.Approved ||
		got.Export.By != operator.Name || got.Provision.WrittenRef != "Y-2026-17" {
		t.Fatalf("record: %+v", got)
	}
	// Closing lets provisional holds lapse after the grace period.
	hs, _ := s.Holds(manager)
	for _, h := range hs {
		if h.Kind == HoldProvisional && h.Until.After(clk.Now().Add(s.policy.ProvisionalHoldGrace)) {
			t.Fatalf("provisional hold not shortened: %+v", h)
		}
	}
	if n := len(s.ActiveHolds(clk.Now().Add(s.policy.ProvisionalHoldGrace + time.Minute))); n != 0 {
		t.Fatalf("%d holds still active after grace", n)
	}
	// Every step is in the ledger, by its actor.
	es, _ := s.Ledger(manager, 0, 0)
	seen := map[Action]string{}
	for _, e := range es {
		seen[e.Action] = e.Actor.Name
	}
	for a, who := range map[Action]string{ActionRequestRegister: operator.Name, ActionRequestInstruct: manager.Name,
		ActionRequestResult: operator.Name, ActionRequestApprove: manager.Name, ActionRequestExport: operator.Name,
		ActionRequestProvide: manager.Name, ActionRequestClose: manager.Name, ActionHoldAdd: operator.Name,
		ActionHoldRelease: manager.Name} {
		if seen[a] != who {
			t.Errorf("ledger %s by %q, want %q", a, seen[a], who)
		}
	}
}

func TestRequestValidation(t *testing.T) {
	s, _, _ := newTestStore(t, CityStandard())
	mustCamera(t, s, "cam1")
	cases := map[string]func(*RequestInput){
		"agency":      func(in *RequestInput) { in.Agency = "" },
		"address":     func(in *RequestInput) { in.ApplicantAddress = " " },
		"phone":       func(in *RequestInput) { in.Phone = "" },
		"purpose":     func(in *RequestInput) { in.Purpose = "curiosity" },
		"reason":      func(in *RequestInput) { in.Purpose = "other" },
		"ground":      func(in *RequestInput) { in.Ground = "" },
		"cameras":     func(in *RequestInput) { in.Cameras = []string{"nope"} },
		"to":          func(in *RequestInput) { in.To = in.From },
		"from":        func(in *RequestInput) { in.From = time.Time{} },
		"ground_note": func(in *RequestInput) { in.Ground = "internal" },
		"consent":     func(in *RequestInput) { in.Ground = "consent" },
	}
	for field, mod := range cases {
		in := requestInput()
		mod(&in)
		_, err := s.RegisterRequest(operator, in)
		var fe *FieldError
		if !errors.Is(err, ErrInvalid) || !errors.As(err, &fe) || fe.Field != field {
			t.Errorf("%s: got %v", field, err)
		}
	}
	if rs, _ := s.Requests(manager); len(rs) != 0 {
		t.Fatalf("invalid requests stored: %d", len(rs))
	}
}

func TestRequestInvalidTransitions(t *testing.T) {
	s, _, _ := newTestStore(t, CityStandard())
	mustCamera(t, s, "cam1")
	r, err := s.RegisterRequest(operator, requestInput())
	if err != nil {
		t.Fatal(err)
	}
	conflict := func(name string, err error, state RequestState) {
		t.Helper()
		if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), string(state)) {
			t.Errorf("%s: want ErrConflict naming %s, got %v", name, state, err)
		}
	}
	_, err = s.Approve(manager, r.ID, okJudgement)
	conflict("approve registered", err, StateRegistered)
	_, err = s.RecordResult(operator, r.ID, "found", "", whole(t, s, r.ID)...)
	conflict("result before instruction", err, StateRegistered)
	_, err = s.RecordExport(operator, r.ID, exportRecord())
	conflict("export before approval", err, StateRegistered)
	_, err = s.CloseRequest(manager, r.ID)
	conflict("close registered", err, StateRegistered)
	if _, err := s.Approve(manager, "R-2026-0099", okJudgement); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown id: %v", err)
	}
	s.InstructSearch(manager, r.ID, operator.Name)
	if _, err := s.RecordResult(operator, r.ID, "no", ""); err != nil {
		t.Fatal(err)
	}
	_, err = s.Approve(manager, r.ID, okJudgement)
	if !errors.Is(err, ErrConflict) {
		t.Errorf("approving a not-found result: %v", err)
	}
	if _, err := s.Deny(manager, r.ID, "nothing found"); err != nil {
		t.Fatal(err)
	}
	_, err = s.Approve(manager, r.ID, okJudgement)
	conflict("approve denied", err, StateDenied)
	_, err = s.Deny(manager, r.ID, "again")
	conflict("deny twice", err, StateDenied)
	if _, err := s.CloseRequest(manager, r.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.CloseRequest(manager, r.ID)
	conflict("close twice", err, StateClosed)
}

func TestRequestApproveRace(t *testing.T) {
	s, _, _ := newTestStore(t, CityStandard())
	mustCamera(t, s, "cam1")
	for round := 0; round < 10; round++ {
		r, err := s.RegisterRequest(operator, requestInput())
		if err != nil {
			t.Fatal(err)
		}
		s.InstructSearch(manager, r.ID, operator.Name)
		if _, err := s.RecordResult(operator, r.ID, "found", "", whole(t, s, r.ID)...); err != nil {
			t.Fatal(err)
		}
		head := s.LedgerHead()
		const n = 2
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				<-start
				if i == 0 {
					_, errs[i] = s.Approve(manager, r.ID, okJudgement)
				} else {
					_, errs[i] = s.Approve(Actor{Fingerprint: "SHA256:m2", Name: "Deputy", Role: RoleManager}, r.ID, okJudgement)
				}
			}(i)
		}
		close(start)
		wg.Wait()
		wins := 0
		for _, err := range errs {
			if err == nil {
				wins++
			} else if !errors.Is(err, ErrConflict) {
				t.Fatalf("loser got %v", err)
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d winners (%v)", round, wins, errs)
		}
		if got := s.LedgerHead(); got != head+1 {
			t.Fatalf("round %d: %d entries for one approval", round, got-head)
		}
		got, _ := s.Request(manager, r.ID)
		if len(got.History) != 4 {
			t.Fatalf("history %+v", got.History)
		}
	}
}
