package ring

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"mimamori/boltmap"
)

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
	read := resident(t, path)
	if read < 256<<10 {
		t.Fatalf("only %d KiB of index.db resident after reading %d entries: the test shows nothing", read>>10, len(refs))
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(10 * time.Second) // a safety net: a sweep comes every second
	for resident(t, path) > read/8 {
		if time.Now().After(deadline) {
			t.Fatalf("index.db: %d KiB resident after reading, still %d KiB after 10 s of sweeps", read>>10, resident(t, path)>>10)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// resident is boltmap.Resident, skipping where /proc/self/smaps is missing.
func resident(t *testing.T, path string) int64 {
	t.Helper()
	n, err := boltmap.Resident(path)
	if err != nil {
		t.Skip("no /proc/self/smaps:", err)
	}
	return n
}
