package core

import (
	"os"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// releaseMapping drops the pages of mimamori.db a whole-database pass
// (a full ledger verification, a backup) read into the process's mapping.
// They stay in the page cache; dropping them from the mapping keeps them
// out of the process's RSS, which otherwise grows with the ledger: a year
// at 64 cameras is ~250 MiB of database, all of it resident after one
// full verification. MADV_DONTNEED on bbolt's read-only shared mapping
// only unmaps; the next read faults the page back in from the cache.
//
// The read transaction holds bbolt's mapping in place (a remap waits for
// it), and only the database's high-water mark, which bbolt always maps,
// is released: bbolt grows the file ahead of its mapping, and DONTNEED
// past the mapping would zero whatever else is mapped there.
func (s *Store) releaseMapping() {
	_ = s.db.View(func(tx *bolt.Tx) error {
		n := tx.Size()
		if fi, err := os.Stat(s.db.Path()); err != nil {
			return nil
		} else if fi.Size() < n {
			n = fi.Size()
		}
		if n > 0 {
			_, _, _ = unix.Syscall(unix.SYS_MADVISE, s.db.Info().Data, uintptr(n), unix.MADV_DONTNEED)
		}
		return nil
	})
}
