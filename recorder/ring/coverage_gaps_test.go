package ring

import (
	"testing"
	"time"
)

// TestCoverageReportsShortGaps: a gap longer than 1.5 fragment durations
// is a gap in Coverage (`recordings` lists it), however short; jitter
// below that is not.
func TestCoverageReportsShortGaps(t *testing.T) {
	e := newEnv(t)
	r := mustOpen(t, e.tinyOpts())
	id, err := r.AppendInit("cam1", initFor("cam1"))
	if err != nil {
		t.Fatal(err)
	}
	// 1 s fragments; then gaps of 0.2 s (jitter), 1.6 s (a reconnect) and
	// 1.4 s (under the limit).
	starts := []time.Duration{0, time.Second, 2200 * time.Millisecond, 4800 * time.Millisecond, 7200 * time.Millisecond}
	for i, st := range starts {
		if err := r.AppendFragment(Fragment{Camera: "cam1", Start: t0.Add(st), Duration: time.Second,
			Keyframe: true, InitID: id, Payload: payloadFor("cam1", i, 100)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}
	spans, err := r.Coverage("cam1", t0, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(spans) != 2 || !spans[0].End.Equal(t0.Add(3200*time.Millisecond)) ||
		!spans[1].Start.Equal(t0.Add(4800*time.Millisecond)) || !spans[1].End.Equal(t0.Add(8200*time.Millisecond)) {
		t.Fatalf("spans %+v", spans)
	}
}
