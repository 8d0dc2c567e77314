package ring

import "mimamori/core"

// The reserve: once the ring is full, Run keeps a few blocks erased ahead
// of need, so a camera that fills its block takes a free one at once
// instead of erasing inline on its RTP goroutine (where it would also wait
// for a running Sync). The inline erasure in takeBlock stays as the
// fallback when the reserve runs dry.

// reserveWantLocked is how many free blocks Run keeps ready: a quarter of
// the cameras recording (at least 2), but never more than an eighth of the
// ring, so a small ring is not erased far ahead of need. Caller holds r.mu.
func (r *Ring) reserveWantLocked() int {
	open := 0
	for _, c := range r.cams {
		if c.open >= 0 {
			open++
		}
	}
	return min(max(2, open/4), r.nblocks/8)
}

// pokeReserve asks Run to refill the reserve soon; it never blocks.
func (r *Ring) pokeReserve() {
	select {
	case r.refill <- struct{}{}:
	default:
	}
}

// oldestUnheldLocked is the sealed block recorded longest ago (by ring
// time, not by its footage's stamps, which a wrong wall clock can put
// years off) that no hold protects, or -1. Caller holds r.mu.
func (r *Ring) oldestUnheldLocked(holds []core.HoldRange) int {
	v := -1
	for i, m := range r.blocks {
		if m.state != stateSealed || r.heldLocked(m, holds) {
			continue
		}
		if v < 0 || m.lastE < r.blocks[v].lastE || (m.lastE == r.blocks[v].lastE && m.last < r.blocks[v].last) {
			v = i
		}
	}
	return v
}

// RefillReserve erases the oldest unheld sealed blocks (reason
// "overwrite", with the usual four steps and ledger proof) until the
// reserve of free blocks is full or nothing more may be erased. Run calls
// it; it is exported for tests and tools.
func (r *Ring) RefillReserve() error {
	r.syncMu.Lock()
	defer r.syncMu.Unlock()
	for {
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			return ErrClosed
		}
		free := 0
		for _, m := range r.blocks {
			if m.state == stateFree {
				free++
			}
		}
		if free >= r.reserveWantLocked() {
			r.mu.Unlock()
			return nil
		}
		// Holds re-read for every block: one placed while the previous
		// block was being erased protects its block.
		v := r.oldestUnheldLocked(r.activeHoldsLocked())
		if v < 0 {
			r.mu.Unlock()
			return nil // everything left is open or held
		}
		r.blocks[v].state = stateErasing
		r.blocks[v].reason = reasonOverwrite
		r.mu.Unlock()
		if err := r.eraseBlock(uint32(v)); err != nil {
			// The block stays erasing; the sweeper retries it.
			return err
		}
		r.reserveErasures.Add(1)
	}
}

// InlineErasures counts blocks an append had to erase itself because no
// free block was ready (the reserve ran dry or Run is not running).
func (r *Ring) InlineErasures() uint64 { return r.inlineErasures.Load() }

// ReserveErasures counts blocks erased ahead of need by RefillReserve.
func (r *Ring) ReserveErasures() uint64 { return r.reserveErasures.Load() }
