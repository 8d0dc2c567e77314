package recorder

import (
	"bytes"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"mimamori/core"
	"mimamori/recorder/ring"
)

// fakeClock is a settable clock shared by core and the ring: Add lets
// time pass (the wall and monotonic clocks move together).
type fakeClock struct {
	mu   sync.Mutex
	t    time.Time
	mono time.Duration
}

func (c *fakeClock) Mono() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mono
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mono += d
	c.mu.Unlock()
}

// TestProvisionalHoldOutlivesRetentionAndWraps registers a police request
// in the real core, records through several wraps of a tiny ring and past
// the retention period, and checks the requested footage is still there
// and intact; once the request is denied and the grace period is over,
// the same footage is erased normally and the erasure is in the ledger.
func TestProvisionalHoldOutlivesRetentionAndWraps(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	clock := &fakeClock{t: t0}
	pol := core.CityStandard()
	st, err := core.Open(filepath.Join(dir, "mimamori.db"), core.Options{Now: clock.Now, Policy: pol})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.SyncCameras(core.SystemActor("config"), []core.Camera{{ID: "cam1", Number: "1", Name: "gate", URL: "rtsp://127.0.0.1/cam1"}}); err != nil {
		t.Fatal(err)
	}
	retention := time.Duration(pol.RetentionDays * float64(24*time.Hour))
	rg, err := ring.Open(ring.Options{
		Dir: dir, Capacity: 16 * 64 << 10, BlockSize: 64 << 10, Retention: retention,
		Now: clock.Now, Mono: clock.Mono, BootID: "test", Erasures: st, Holds: st, HoldShare: 0.25,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer rg.Close()
	initID, err := rg.AppendInit("cam1", []byte("init segment"))
	if err != nil {
		t.Fatal(err)
	}
	payload := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 8000) }
	seq := 0
	record := func(n int) {
		t.Helper()
		for range n {
			err := rg.AppendFragment(ring.Fragment{Camera: "cam1", Start: clock.Now(), Duration: time.Second,
				Keyframe: true, InitID: initID, Payload: payload(seq)})
			if err != nil {
				t.Fatalf("append %d: %v", seq, err)
			}
			seq++
			clock.Add(time.Second)
			if seq%10 == 0 {
				if err := rg.Sync(); err != nil {
					t.Fatal(err)
				}
				if err := rg.Sweep(); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	record(60)
	from, to := t0.Add(20*time.Second), t0.Add(30*time.Second)
	op := core.Actor{Fingerprint: "SHA256:op", Name: "担当", Role: core.RoleOperator}
	mgr := core.Actor{Fingerprint: "SHA256:mgr", Name: "管理", Role: core.RoleManager}
	req, err := st.RegisterRequest(op, core.RequestInput{
		Agency: "千葉県警察", ApplicantAddress: "千葉市", Representative: "警部", ContactPerson: "巡査", Phone: "043-000-0000",
		Purpose: "investigation", Ground: "law", Cameras: []string{"cam1"}, From: from, To: to,
	})
	if err != nil {
		t.Fatal(err)
	}
	held := func() int {
		t.Helper()
		refs, err := rg.Fragments("cam1", from, to)
		if err != nil {
			t.Fatal(err)
		}
		for _, ref := range refs {
			if _, err := rg.ReadFragment(ref); err != nil {
				t.Fatalf("held fragment at %v does not read back: %v", ref.Start, err)
			}
		}
		return len(refs)
	}
	before := held()
	if before < 10 {
		t.Fatalf("only %d fragments in the requested range before wrapping", before)
	}
	// About 8 laps of the ring (each ~128 fragments of 8 kB).
	record(1000)
	if got := held(); got != before {
		t.Fatalf("after several wraps %d of %d held fragments remain", got, before)
	}
	// Past retention, in sweeps.
	for clock.Now().Before(t0.Add(retention + 24*time.Hour)) {
		clock.Add(30 * time.Minute)
		if err := rg.Sweep(); err != nil {
			t.Fatal(err)
		}
	}
	if got := held(); got != before {
		t.Fatalf("past retention %d of %d held fragments remain", got, before)
	}
	// Denied: the provisional hold lapses after the grace period and the
	// footage, now long past retention, is erased with proof.
	if _, err := st.Deny(mgr, req.ID, "対象外"); err != nil {
		t.Fatal(err)
	}
	for end := clock.Now().Add(pol.ProvisionalHoldGrace + time.Hour); clock.Now().Before(end); {
		clock.Add(30 * time.Minute)
		if err := rg.Sweep(); err != nil {
			t.Fatal(err)
		}
	}
	if got := held(); got != 0 {
		t.Fatalf("%d fragments of a released hold survive past retention", got)
	}
	// Core coalesces erasure proofs (one entry per camera per hour); the
	// run ends here.
	if err := st.FlushErasureProofs(""); err != nil {
		t.Fatal(err)
	}
	entries, err := st.Ledger(mgr, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	// Every second of the formerly held range is in some retention erasure.
	type span struct{ from, to time.Time }
	var erased []span
	for _, e := range entries {
		if e.Action == core.ActionErasure && e.Subject == "cam1" && strings.Contains(e.Details["reason"], "retention") {
			ranges := []string{e.Details["from"] + "/" + e.Details["to"]}
			if sp := e.Details["spans"]; sp != "" {
				ranges = strings.Fields(sp)
			}
			for _, r := range ranges {
				a, b, _ := strings.Cut(r, "/")
				f, _ := time.Parse(time.RFC3339Nano, a)
				u, _ := time.Parse(time.RFC3339Nano, b)
				erased = append(erased, span{f, u})
			}
		}
	}
	for at := from; at.Before(to); at = at.Add(time.Second) {
		found := false
		for _, sp := range erased {
			if !at.Before(sp.from) && at.Before(sp.to) {
				found = true
			}
		}
		if !found {
			t.Fatalf("footage at %v was held, then erased, but no retention erasure in the ledger covers it (%d retention erasures)", at, len(erased))
		}
	}
}

// TestHoldSurvivesRebootWithClockAhead: the appliance reboots with its
// clock two years ahead (a bad RTC) and records through several laps of
// the ring before anyone notices. The held footage of an open request
// must survive: neither core nor the ring may judge the hold by the wall
// clock of a fresh boot.
func TestHoldSurvivesRebootWithClockAhead(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	clock := &fakeClock{t: t0}
	pol := core.CityStandard()
	open := func(bootID string) (*core.Store, *ring.Ring) {
		t.Helper()
		st, err := core.Open(filepath.Join(dir, "mimamori.db"), core.Options{Now: clock.Now, Policy: pol})
		if err != nil {
			t.Fatal(err)
		}
		rg, err := ring.Open(ring.Options{
			Dir: dir, Capacity: 16 * 64 << 10, BlockSize: 64 << 10, Retention: time.Duration(pol.RetentionDays * float64(24*time.Hour)),
			Now: clock.Now, Mono: clock.Mono, BootID: bootID, ClockSynced: func() bool { return false },
			Erasures: st, Holds: st, HoldShare: 0.25,
		})
		if err != nil {
			t.Fatal(err)
		}
		return st, rg
	}
	st, rg := open("boot-1")
	if err := st.SyncCameras(core.SystemActor("config"), []core.Camera{{ID: "cam1", Number: "1", Name: "gate", URL: "rtsp://127.0.0.1/cam1"}}); err != nil {
		t.Fatal(err)
	}
	record := func(n int) {
		t.Helper()
		initID, err := rg.AppendInit("cam1", []byte("init segment"))
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			err := rg.AppendFragment(ring.Fragment{Camera: "cam1", Start: clock.Now(), Duration: time.Second,
				Keyframe: true, InitID: initID, Payload: bytes.Repeat([]byte{byte(i)}, 8000)})
			if err != nil {
				t.Fatalf("append %d: %v", i, err)
			}
			clock.Add(time.Second)
			if i%10 == 9 {
				if err := rg.Sync(); err != nil {
					t.Fatal(err)
				}
				if err := rg.Sweep(); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	record(60)
	from, to := t0.Add(20*time.Second), t0.Add(30*time.Second)
	op := core.Actor{Fingerprint: "SHA256:op", Name: "担当", Role: core.RoleOperator}
	if _, err := st.RegisterRequest(op, core.RequestInput{
		Agency: "千葉県警察", ApplicantAddress: "千葉市", Representative: "警部", ContactPerson: "巡査", Phone: "043-000-0000",
		Purpose: "investigation", Ground: "law", Cameras: []string{"cam1"}, From: from, To: to,
	}); err != nil {
		t.Fatal(err)
	}
	rg.Sweep() // the ring sees the hold
	held := func() int {
		t.Helper()
		refs, err := rg.Fragments("cam1", from, to)
		if err != nil {
			t.Fatal(err)
		}
		return len(refs)
	}
	before := held()
	if before < 10 {
		t.Fatalf("only %d fragments in the requested range", before)
	}
	if err := rg.Close(); err != nil {
		t.Fatal(err)
	}
	st.Close()
	// Off for ten minutes; the RTC says two years later.
	clock.mu.Lock()
	clock.t = clock.t.Add(10*time.Minute + 2*365*24*time.Hour)
	clock.mono = 20 * time.Second
	clock.mu.Unlock()
	st, rg = open("boot-2")
	defer st.Close()
	defer rg.Close()
	record(1000) // about 8 laps
	if got := held(); got != before {
		t.Fatalf("after a reboot with the clock two years ahead and 8 laps, %d of %d held fragments remain", got, before)
	}
}
