package ring

import (
	"sync"
	"testing"
	"time"

	"mimamori/core"
)

type stepEvents struct {
	mu  sync.Mutex
	got []core.RecordingEvent
}

func (f *stepEvents) RecordEvent(ev core.RecordingEvent) error {
	f.mu.Lock()
	f.got = append(f.got, ev)
	f.mu.Unlock()
	return nil
}

func (f *stepEvents) kinds() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, e := range f.got {
		out = append(out, e.Kind)
	}
	return out
}

// TestStepDoesWhatRunsTickersDo drives a ring on a simulated clock with
// Step alone (as tools/soak does): the index is synced, retention erases
// on ring time with a proof, and a wall-clock step reaches the event log
// once — without Run.
func TestStepDoesWhatRunsTickersDo(t *testing.T) {
	e := newEnv(t)
	ev := &stepEvents{}
	o := e.tinyOpts()
	o.Retention = time.Hour
	o.Events = ev
	o.NoSync = true
	r := mustOpen(t, o)
	defer r.Close()
	id, err := r.AppendInit("cam1", initFor("cam1"))
	if err != nil {
		t.Fatal(err)
	}
	appendSeq(t, r, e, "cam1", id, 0, 40, 20<<10) // several blocks, the first sealed
	if err := r.Step(false); err != nil {
		t.Fatal(err)
	}
	if refs, err := r.Fragments("cam1", t0, t0.Add(time.Hour)); err != nil || len(refs) != 40 {
		t.Fatalf("after Step: %d fragments indexed, %v; want 40", len(refs), err)
	}
	if n := len(e.er.list()); n != 0 {
		t.Fatalf("%d erasures before retention", n)
	}
	e.clock.Step(2 * time.Hour) // the wall clock only: nothing may expire
	if err := r.Step(true); err != nil {
		t.Fatal(err)
	}
	if n := len(e.er.list()); n != 0 {
		t.Fatalf("a wall-clock step erased %d blocks", n)
	}
	if k := ev.kinds(); len(k) != 1 || k[0] != "clock-step" {
		t.Fatalf("events after a step: %v, want one clock-step", k)
	}
	e.clock.Advance(2 * time.Hour) // ring time passes retention
	if err := r.Step(true); err != nil {
		t.Fatal(err)
	}
	if n := len(e.er.list()); n == 0 {
		t.Fatal("Step(true) erased nothing past retention")
	}
	if k := ev.kinds(); len(k) != 1 {
		t.Fatalf("events: %v, want the one clock-step", k)
	}
}
