// Package boltmap takes the pages a bbolt database read out of the
// process's mapping of its file. bbolt maps the file read-only and shared;
// every page a pass reads stays resident and counts in the process's RSS
// until memory runs short, so a process that reads its whole database now
// and then (core's full ledger verification, the ring's Open and its
// erasures) grows with the files. MADV_DONTNEED on such a mapping only
// unmaps: the pages stay in the page cache and fault back in when read.
package boltmap

import (
	"bufio"
	"os"
	"strconv"
	"strings"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// Release drops db's pages from the process's mapping. It runs inside a
// read transaction, which holds bbolt's mapping in place (a remap waits
// for it), and releases only Mapped bytes.
func Release(db *bolt.DB) {
	_ = db.View(func(tx *bolt.Tx) error {
		if n := Mapped(tx); n > 0 {
			_, _, _ = unix.Syscall(unix.SYS_MADVISE, db.Info().Data, uintptr(n), unix.MADV_DONTNEED)
		}
		return nil
	})
}

// Mapped is how much of tx's database mapping Release may drop: the
// database's high-water mark, which bbolt always maps. Not the file's
// size: bbolt grows the file ahead of its mapping (by AllocSize, 16 MiB),
// and DONTNEED past the mapping's end zeroes whatever the process has
// mapped there — the Go heap (a 355,072-block ring index: 36.4 MB file,
// 32 MiB mapped; the soak crashed at start, "bad sweepgen"). Call it
// inside the transaction the caller already holds: opening a second one
// could deadlock against a remap waiting between the two.
func Mapped(tx *bolt.Tx) int64 {
	n := tx.Size()
	fi, err := os.Stat(tx.DB().Path())
	if err != nil {
		return 0
	}
	return min(n, fi.Size())
}

// Resident is the resident size of this process's mappings of path, from
// /proc/self/smaps.
func Resident(path string) (int64, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0, err
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
		if strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") { // a mapping's header line
			in = len(fields) >= 6 && fields[len(fields)-1] == path
			continue
		}
		if in && fields[0] == "Rss:" && len(fields) >= 2 {
			kb, _ := strconv.ParseInt(fields[1], 10, 64)
			rss += kb << 10
		}
	}
	return rss, sc.Err()
}
