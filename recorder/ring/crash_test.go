package ring

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const crashChildEnv = "MIMAMORI_RING_CRASH_CHILD"

var crashCams = []string{"cam1", "cam2", "cam3", "cam4"}

func crashOpts(dir string, now func() time.Time) Options {
	return Options{Dir: dir, Capacity: 48 * 64 << 10, BlockSize: 64 << 10,
		SyncInterval: 50 * time.Millisecond, Now: now, Erasures: &fakeErasures{}}
}

// crashFragSize varies the size so records do not line up with blocks.
func crashFragSize(i int) int { return 2000 + (i*7919)%9000 }

// frag i of a camera covers [t0 + i·100 ms, +100 ms).
func crashStart(i int) time.Time { return t0.Add(time.Duration(i) * 100 * time.Millisecond) }

// runCrashChild appends to four cameras until killed, logging each append
// (after it returned) to appended.log. A SIGKILL keeps the page cache, so
// the log survives exactly as written.
func runCrashChild(dir string) {
	clock := &fakeClock{t: t0}
	r, err := Open(crashOpts(dir, clock.Now))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(2)
	}
	go r.Run(context.Background())
	log, err := os.OpenFile(filepath.Join(dir, "appended.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		os.Exit(2)
	}
	ids := map[string]uint32{}
	for _, c := range crashCams {
		if ids[c], err = r.AppendInit(c, initFor(c)); err != nil {
			os.Exit(2)
		}
	}
	for i := 0; ; i++ {
		clock.Set(crashStart(i))
		for _, c := range crashCams {
			err := r.AppendFragment(Fragment{Camera: c, Start: crashStart(i), Duration: 100 * time.Millisecond,
				Keyframe: true, InitID: ids[c], Payload: payloadFor(c, i, crashFragSize(i))})
			if err != nil {
				fmt.Fprintln(os.Stderr, "child append:", err)
				os.Exit(3)
			}
			fmt.Fprintf(log, "%s %d\n", c, i)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestCrashChildSIGKILL(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		runCrashChild(dir)
		return
	}
	if testing.Short() {
		t.Skip("re-exec crash test skipped in -short mode")
	}
	for round, killAfter := range []int{150, 400, 900} {
		t.Run(strconv.Itoa(round), func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChildSIGKILL$", "-test.count=1")
			cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(60 * time.Second)
			for {
				if last := lastLogged(t, dir); last["cam4"] >= killAfter {
					break
				}
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					cmd.Wait()
					t.Fatalf("child made no progress: %s", stderr.String())
				}
				time.Sleep(5 * time.Millisecond)
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			cmd.Wait()
			if strings.Contains(stderr.String(), "child") {
				t.Fatalf("child failed: %s", stderr.String())
			}
			logged := lastLogged(t, dir)

			clock := &fakeClock{t: crashStart(logged["cam1"] + 1)}
			r := mustOpen(t, crashOpts(dir, clock.Now))
			defer r.Close()
			for _, c := range crashCams {
				refs, err := r.Fragments(c, t0.Add(-time.Hour), t0.Add(100*time.Hour))
				if err != nil {
					t.Fatal(err)
				}
				if len(refs) == 0 {
					t.Fatalf("%s: nothing recovered", c)
				}
				first := int(refs[0].Start.Sub(t0) / (100 * time.Millisecond))
				for k, f := range refs {
					i := first + k
					if !f.Start.Equal(crashStart(i)) {
						t.Fatalf("%s: hole in the index at #%d (found %s)", c, i, f.Start)
					}
					p, err := r.ReadFragment(f)
					if err != nil {
						t.Fatalf("%s #%d: %v", c, i, err)
					}
					if string(p) != string(payloadFor(c, i, crashFragSize(i))) {
						t.Fatalf("%s #%d: payload differs", c, i)
					}
				}
				last := first + len(refs) - 1
				// At most one SyncInterval of appends (here far less: a
				// SIGKILL keeps the page cache) and at most the one append
				// in flight beyond the log.
				lost := logged[c] - last
				t.Logf("%s: logged up to #%d, recovered #%d..#%d (lost %d)", c, logged[c], first, last, lost)
				if lost > 10 || last > logged[c]+1 {
					t.Fatalf("%s: logged #%d, recovered up to #%d", c, logged[c], last)
				}
			}
			checkTailsZero(t, r, dir)
		})
	}
}

// lastLogged returns the highest fragment index logged per camera.
func lastLogged(t *testing.T, dir string) map[string]int {
	out := map[string]int{}
	f, err := os.Open(filepath.Join(dir, "appended.log"))
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cam, num, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue // a torn last line
		}
		if n, err := strconv.Atoi(num); err == nil && n > out[cam] {
			out[cam] = n
		}
	}
	return out
}
