package recorder

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"mimamori/core"
	"mimamori/recorder/ring"
)

// ringFootage is the ring as core's footage, without the live recorder.
type ringFootage struct{ *ring.Ring }

func (f ringFootage) Stats() core.RecorderStats { return core.RecorderStats{} }

// Asking for everything a camera recorded ("recordings cam1 --from
// 0001-01-01T00:00:00Z --to 9999-12-31T00:00:00Z", the console's widest
// range) must list it. The ring keys footage by Unix nanoseconds, which
// end in 2262: a query beyond that overflowed and was answered "nothing
// recorded in this range" — a false statement to whoever audits the
// appliance.
func TestRecordingsOverTheWidestRange(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	clock := &fakeClock{t: t0}
	pol := core.CityStandard()
	st, err := core.Open(filepath.Join(dir, "mimamori.db"), core.Options{Now: clock.Now, Policy: pol})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rg, err := ring.Open(ring.Options{
		Dir: dir, Capacity: 16 * 64 << 10, BlockSize: 64 << 10, Retention: time.Duration(pol.RetentionDays * float64(24*time.Hour)),
		Now: clock.Now, Mono: clock.Mono, BootID: "boot-1", ClockSynced: func() bool { return true },
		Erasures: st, Holds: st, HoldShare: 0.25,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rg.Close() })
	st.SetFootage(ringFootage{rg})
	if err := st.SyncCameras(core.SystemActor("config"), []core.Camera{{ID: "cam1", Number: "1", Name: "gate", URL: "rtsp://127.0.0.1/cam1"}}); err != nil {
		t.Fatal(err)
	}
	initID, err := rg.AppendInit("cam1", []byte("init segment"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := rg.AppendFragment(ring.Fragment{Camera: "cam1", Start: clock.Now(), Duration: time.Second,
			Keyframe: true, InitID: initID, Payload: bytes.Repeat([]byte{byte(i)}, 4000)}); err != nil {
			t.Fatal(err)
		}
		clock.Add(time.Second)
	}
	if err := rg.Sync(); err != nil {
		t.Fatal(err)
	}
	manager := core.Actor{Fingerprint: "SHA256:m", Name: "Manager", Role: core.RoleManager}
	for _, q := range []struct{ from, to time.Time }{
		{t0.Add(-time.Hour), t0.Add(time.Hour)},
		{time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)},
		{t0.Add(-time.Hour), time.Date(2263, 1, 1, 0, 0, 0, 0, time.UTC)},
		{time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC), t0.Add(time.Hour)},
	} {
		spans, err := st.Recordings(manager, "cam1", q.from, q.to)
		if err != nil || len(spans) != 1 || !spans[0].Start.Equal(t0) {
			t.Errorf("recordings %s .. %s: %v, %+v; want the 5 s recorded at %s", q.from.Format(time.RFC3339), q.to.Format(time.RFC3339), err, spans, t0)
		}
	}
}
