package ring

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// residentBytes is the resident size of this process's mappings of path
// (/proc/self/smaps).
func residentBytes(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skip("no /proc/self/smaps:", err)
	}
	defer f.Close()
	var rss int64
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			in = len(fields) >= 6 && fields[len(fields)-1] == path
			continue
		}
		if in && fields[0] == "Rss:" && len(fields) >= 2 {
			kb, _ := strconv.ParseInt(fields[1], 10, 64)
			rss += kb << 10
		}
	}
	return rss
}

// Index pages read while the ring runs (erasing deletes entries in the
// pages that hold them; queries read them) used to stay in the process's
// mapping until memory ran short: at 64 cameras with 1-s fragments the
// soak's RSS swung between 0.5 and 1.2 GB of index.db. Run releases them
// after every sweep round.
func TestRunReleasesIndexPagesAfterASweep(t *testing.T) {
	e := newEnv(t)
	o := e.tinyOpts()
	o.BlockSize = 4096
	o.Capacity = 4096 * 4096
	o.MaxBlockSpan = 2 * time.Second // Run sweeps every second
	o.NoSync = true
	r := mustOpen(t, o)
	defer r.Close()
	id, _ := r.AppendInit("cam1", initFor("cam1"))
	appendSeq(t, r, e, "cam1", id, 0, 8000, 100)
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(e.dir, "index.db")
	refs, err := r.Fragments("cam1", t0, t0.Add(24*time.Hour)) // reads every fragment page
	if err != nil || len(refs) < 7000 {
		t.Fatalf("%d fragments, %v", len(refs), err)
	}
	read := residentBytes(t, path)
	if read < 256<<10 {
		t.Fatalf("only %d KiB of index.db resident after reading %d entries: the test shows nothing", read>>10, len(refs))
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(10 * time.Second) // a safety net: a sweep comes every second
	for residentBytes(t, path) > read/8 {
		if time.Now().After(deadline) {
			t.Fatalf("index.db: %d KiB resident after reading, still %d KiB after 10 s of sweeps", read>>10, residentBytes(t, path)>>10)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
