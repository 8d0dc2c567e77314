package recorder

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The crash child records the cameras named in its environment into the
// data dir until it is killed.
const crashChildEnv = "MIMAMORI_CRASH_CHILD"

func TestMain(m *testing.M) {
	if spec := os.Getenv(crashChildEnv); spec != "" {
		os.Exit(runCrashChild(spec))
	}
	if spec := os.Getenv(simcamChildEnv); spec != "" {
		os.Exit(runSimcamChild(spec))
	}
	os.Exit(m.Run())
}

// runCrashChild: spec is "DIR|URL1|URL2...".
func runCrashChild(spec string) int {
	f := strings.Split(spec, "|")
	var cams []Camera
	for i, u := range f[1:] {
		cams = append(cams, Camera{ID: "cam" + string(rune('1'+i)), URL: u})
	}
	rec, err := New(Options{
		DataDir: f[0], Capacity: 64 << 20, BlockSize: 1 << 20, Retention: 24 * time.Hour,
		SyncInterval: 250 * time.Millisecond, Cameras: cams, Ledger: &memLedger{},
	})
	if err != nil {
		os.Stderr.WriteString(err.Error())
		return 3
	}
	rec.Run(context.Background()) // until SIGKILL
	return 0
}

// TestCrashRecovery kills a recording child process with SIGKILL and
// checks, after reopening the same data dir, that the index agrees with
// the ring, every fragment verifies, and little is lost at the kill point.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test records for several seconds")
	}
	srv := startSimcam(t, 2, 1_000_000)
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir+"|"+srv.URL(1)+"|"+srv.URL(2))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	time.Sleep(6 * time.Second)
	killedAt := time.Now()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	ledger := &memLedger{}
	rec, err := New(Options{
		DataDir: dir, Capacity: 64 << 20, BlockSize: 1 << 20, Retention: 24 * time.Hour,
		Ledger: ledger,
	})
	if err != nil {
		t.Fatalf("reopen after SIGKILL: %v", err)
	}
	defer rec.Close()
	for _, cam := range []string{"cam1", "cam2"} {
		refs, err := rec.Ring().Fragments(cam, start.Add(-time.Minute), killedAt.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if len(refs) < 3 {
			t.Fatalf("%s: %d fragments survived, want several", cam, len(refs))
		}
		for i, ref := range refs {
			if _, err := rec.Ring().ReadFragment(ref); err != nil {
				t.Fatalf("%s: fragment %d does not verify after recovery: %v", cam, i, err)
			}
		}
		last := refs[len(refs)-1]
		missing := killedAt.Sub(last.Start.Add(last.Duration))
		t.Logf("%s: %d fragments recovered, %v missing at the kill point", cam, len(refs), missing.Round(time.Millisecond))
		// One fragment (1 s GOP) in the making plus one sync interval.
		if missing > 2*time.Second {
			t.Errorf("%s: %v of footage lost at the kill point, want about 1 s at most", cam, missing)
		}
	}
}
