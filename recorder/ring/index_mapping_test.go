package ring

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"mimamori/boltmap"
)

// TestReleaseIndexPagesStaysInMapping: Open drops the index pages it read
// from the process's mapping (madvise DONTNEED), and must drop no more
// than bbolt mapped. bbolt grows index.db ahead of its mapping, so at
// 355,072 blocks the file is 36.4 MB and the mapping 32 MiB: releasing
// the file's size zeroed the next few megabytes of the process — the Go
// heap — and the soak died at start with "bad sweepgen in refill".
func TestReleaseIndexPagesStaysInMapping(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 355,072-block index")
	}
	e := newEnv(t)
	o := e.tinyOpts()
	o.BlockSize = 4096
	o.Capacity = 355072 * 4096
	o.NoSync = true
	r := mustOpen(t, o)
	defer r.Close()
	path := filepath.Join(e.dir, "index.db")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	mapped := mappingSize(t, path)
	if fi.Size() <= mapped {
		t.Logf("index.db %d bytes within its %d-byte mapping: this geometry no longer shows the overrun", fi.Size(), mapped)
	}
	var n int64
	_ = r.db.View(func(tx *bolt.Tx) error { n = boltmap.Mapped(tx); return nil })
	if n == 0 || n > mapped {
		t.Fatalf("releaseIndexPages would drop %d bytes of a %d-byte mapping (file %d bytes)", n, mapped, fi.Size())
	}
}

// mappingSize is the size of this process's mapping of path.
func mappingSize(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		t.Skip("no /proc/self/maps:", err)
	}
	defer f.Close()
	var total int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[len(fields)-1] != path {
			continue
		}
		lo, hi, _ := strings.Cut(fields[0], "-")
		a, err1 := strconv.ParseUint(lo, 16, 64)
		b, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("maps line %q", sc.Text())
		}
		total += int64(b - a)
	}
	if total == 0 {
		t.Fatalf("%s is not mapped", path)
	}
	return total
}
