package appliance

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"mimamori/core"
	"mimamori/recorder/ring"
)

// stepClock is a wall and a monotonic clock: Pass lets time pass (both
// move), Step moves the wall clock alone.
type stepClock struct {
	mu   sync.Mutex
	wall time.Time
	mono time.Duration
}

func (c *stepClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.wall }
func (c *stepClock) Mono() time.Duration { c.mu.Lock(); defer c.mu.Unlock(); return c.mono }
func (c *stepClock) Pass(d time.Duration) {
	c.mu.Lock()
	c.wall, c.mono = c.wall.Add(d), c.mono+d
	c.mu.Unlock()
}
func (c *stepClock) Step(d time.Duration) { c.mu.Lock(); c.wall = c.wall.Add(d); c.mu.Unlock() }

// copyExporter writes a small package file, as the real exporter would.
type copyExporter struct{}

func (copyExporter) Export(_ context.Context, job core.ExportJob, _ func(done, total int64)) (core.ExportRecord, error) {
	p := filepath.Join(job.Dir, job.Request.ID+".mimamori")
	if err := os.WriteFile(p, []byte("package"), 0o600); err != nil {
		return core.ExportRecord{}, err
	}
	return core.ExportRecord{Path: p, ManifestHash: strings.Repeat("ab", 32), PackageSHA256: strings.Repeat("cd", 32), PackageBytes: 7,
		Files: []core.ExportFile{{Name: "cam1.mp4", Camera: "cam1", SHA256: strings.Repeat("ef", 32), Bytes: 1}}}, nil
}

func enrolled(t *testing.T, st *core.Store, name string, role core.Role) core.Actor {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := gossh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	k, err := st.EnrollKey(core.SystemActor("test"), name, role, strings.TrimSpace(string(gossh.MarshalAuthorizedKey(sp))))
	if err != nil {
		t.Fatal(err)
	}
	return k.Actor()
}

// The appliance's copy of an export package goes when the request's
// footage would have expired — reckoned on the ring's persisted time. The
// wall clock is stepped past that point while the appliance is stopped
// (a bad RTC, a hand-set clock) and the appliance starts again: the copy
// stays; it goes once the time has really passed.
func TestExportCopySweepRunsOnRingTime(t *testing.T) {
	dir := t.TempDir()
	clk := &stepClock{wall: time.Now().UTC().Truncate(time.Second), mono: time.Hour}
	pol := core.CityStandard()
	st, err := core.Open(filepath.Join(dir, "mimamori.db"), core.Options{Now: clk.Now, Policy: pol})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	openRing := func() *ring.Ring {
		t.Helper()
		rg, err := ring.Open(ring.Options{Dir: dir, Capacity: 16 * 64 << 10, BlockSize: 64 << 10, Retention: pol.Retention(),
			Now: clk.Now, Mono: clk.Mono, BootID: "boot-1", ClockSynced: func() bool { return false },
			Erasures: st, Holds: st, HoldShare: 0.25})
		if err != nil {
			t.Fatal(err)
		}
		st.SetTrustedClock(rg)
		return rg
	}
	rg := openRing()

	// An exported request, its provisional holds released (so only its
	// footage's age keeps the copy).
	if err := st.SyncCameras(core.SystemActor("config"), []core.Camera{{ID: "cam1", Number: "1", Name: "gate", URL: "rtsp://127.0.0.1/cam1"}}); err != nil {
		t.Fatal(err)
	}
	mgr := enrolled(t, st, "kanri", core.RoleManager)
	op := enrolled(t, st, "sousa", core.RoleOperator)
	st.SetExporter(copyExporter{})
	from, to := clk.Now().Add(-time.Hour), clk.Now().Add(-30*time.Minute)
	r, err := st.RegisterRequest(op, core.RequestInput{Agency: "千葉県警察", ApplicantAddress: "千葉市", Representative: "警部",
		ContactPerson: "巡査", Phone: "043-000-0000", Purpose: "investigation", Ground: "law", Cameras: []string{"cam1"},
		From: from, To: to, ReceivedAt: clk.Now()})
	if err == nil {
		_, err = st.InstructSearch(mgr, r.ID, op.Name)
	}
	if err == nil {
		_, err = st.RecordResult(op, r.ID, "found", "", core.FoundRange{Camera: "cam1", From: from, To: to})
	}
	if err == nil {
		_, err = st.Approve(mgr, r.ID, core.ApprovalInput{Judgement: "捜査に必要な範囲に限られ不当侵害のおそれなし"})
	}
	if err == nil {
		_, err = st.ProtectPackage(mgr, r.ID, "")
	}
	if err == nil {
		r, err = st.ExportRequest(context.Background(), op, r.ID, nil, t.TempDir(), nil)
	}
	if err == nil {
		_, err = st.ReleaseRequestHolds(mgr, r.ID, "not needed")
	}
	if err != nil {
		t.Fatal(err)
	}
	copyPath := r.Export.Path
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sys := core.SystemActor("custody")
	sweep := func() {
		t.Helper()
		sweepCopiesOnce(st, sys, log)
	}
	sweep()
	if _, err := os.Stat(copyPath); err != nil {
		t.Fatalf("fresh copy erased: %v", err)
	}

	// Stopped for a minute; the wall clock now says the footage expired
	// a day ago.
	if err := rg.Close(); err != nil {
		t.Fatal(err)
	}
	clk.Pass(time.Minute)
	clk.Step(pol.Retention() + 24*time.Hour)
	rg = openRing()
	defer rg.Close()
	sweep()
	if _, err := os.Stat(copyPath); err != nil {
		t.Fatalf("a wall-clock step erased the copy early: %v", err)
	}

	// The time really passes.
	clk.Pass(pol.Retention())
	sweep()
	if _, err := os.Stat(copyPath); !os.IsNotExist(err) {
		t.Fatalf("copy kept after its footage's retention really passed: %v", err)
	}
	got, err := st.Request(mgr, r.ID)
	if err != nil || got.Export.EraseReason != core.EraseExpired {
		t.Fatalf("erasure not recorded as expiry: %+v %v", got.Export, err)
	}
}
