package core

import (
	"time"

	bolt "go.etcd.io/bbolt"
)

// This file holds what the Prometheus endpoint (metrics/) reads from core:
// plain counters and snapshots, never a ledger entry, never a write.

// Histogram is a latency distribution in fixed buckets, the shape
// Prometheus histograms have. The zero value has no buckets; make one with
// NewHistogram. It is not safe for concurrent use: its owner locks.
type Histogram struct {
	Bounds []float64 // bucket upper bounds in seconds, ascending
	Counts []uint64  // Counts[i]: observations ≤ Bounds[i] (and > Bounds[i-1]); one more for "above every bound"
	Sum    float64   // seconds
}

// FsyncBuckets are the bounds used for the ring's fdatasync latency: from
// a fast SSD's half millisecond to a failing disk's ten seconds.
var FsyncBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// NewHistogram returns an empty histogram with the given ascending bounds.
func NewHistogram(bounds []float64) Histogram {
	return Histogram{Bounds: bounds, Counts: make([]uint64, len(bounds)+1)}
}

// Observe adds one observation.
func (h *Histogram) Observe(d time.Duration) {
	if len(h.Counts) != len(h.Bounds)+1 {
		return // zero value: nowhere to count
	}
	s := d.Seconds()
	i := 0
	for i < len(h.Bounds) && s > h.Bounds[i] {
		i++
	}
	h.Counts[i]++
	h.Sum += s
}

// Clone returns a copy that shares nothing with h.
func (h Histogram) Clone() Histogram {
	return Histogram{Bounds: h.Bounds, Counts: append([]uint64(nil), h.Counts...), Sum: h.Sum}
}

// Count is the number of observations.
func (h Histogram) Count() uint64 {
	var n uint64
	for _, c := range h.Counts {
		n += c
	}
	return n
}

// ErasureCount is how many ring blocks were erased for one reason and how
// many bytes of footage they held.
type ErasureCount struct {
	Blocks uint64
	Bytes  uint64
}

// LedgerActionCounts counts the ledger entries after seq `after` by action,
// reading at most limit entries in one short read transaction, and returns
// the last seq it read (after, if there was nothing new). The ledger is
// append-only, so a caller that keeps the totals and passes the returned
// seq back gets exact, never-decreasing counts at the cost of only the new
// entries. No actor and no ledger entry: it reveals nothing but counts.
func (s *Store) LedgerActionCounts(after uint64, limit int) (map[Action]uint64, uint64, error) {
	if limit <= 0 {
		limit = 10000
	}
	counts := map[Action]uint64{}
	last := after
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bLedger).Cursor()
		n := 0
		for k, v := c.Seek(be64(after + 1)); k != nil && n < limit; k, v = c.Next() {
			e, err := decodeEntry(v)
			if err != nil {
				return err
			}
			counts[e.Action]++
			last = e.Seq
			n++
		}
		return nil
	})
	return counts, last, err
}

// LedgerStanding is the standing check for the metrics endpoint: whether
// the ledger verified up to its newest entry, and whether the first full
// verification after open has finished (known). It costs what the
// console's ChainStatus costs (only the entries added since the last
// check) and, like LedgerHead, needs no actor: it reveals one bit.
func (s *Store) LedgerStanding() (ok, known bool) {
	rep, err := s.watch.status(s.db)
	if err != nil || rep.Pending {
		return false, false
	}
	return rep.OK, true
}
