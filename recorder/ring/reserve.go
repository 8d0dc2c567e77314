package ring

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

// reserveLowLocked is when Run refills the reserve: once it is down to
// half of reserveWantLocked (want − max(1, want/2)), it erases back up to
// want in one batch (erase.go). Refilling one block as each camera takes
// one cost a ledger commit, two index commits and a keys.dat sync per
// block; at 64 cameras (want 16) a batch is about 8 blocks. Caller holds
// r.mu.
func (r *Ring) reserveLowLocked(want int) int { return want - max(1, want/2) }

// oldestUnheldLocked is the sealed block recorded longest ago (by ring
// time, not by its footage's stamps, which a wrong wall clock can put
// years off) that no applied hold protects, or -1: the first of the
// erasure order (book.go). Caller holds r.mu and has applied the holds
// just read (activeHoldsLocked).
func (r *Ring) oldestUnheldLocked() int {
	if b, ok := r.order.Min(); ok {
		return int(b)
	}
	return -1
}

// oldestUnheldNLocked is up to n sealed, unheld blocks, oldest first (as
// oldestUnheldLocked). Caller holds r.mu.
func (r *Ring) oldestUnheldNLocked(n int) []uint32 {
	var vs []uint32
	r.order.Ascend(func(b uint32) bool {
		vs = append(vs, b)
		return len(vs) < n
	})
	return vs
}

// markErasingLocked chooses sealed block b for erasure. Caller holds
// r.mu (and syncMu: eraseBlocks follows).
func (r *Ring) markErasingLocked(b uint32, reason uint8) {
	m := r.blocks[b]
	m.state, m.reason = stateErasing, reason
	r.setMetaLocked(b, m)
}

// RefillReserve erases the oldest unheld sealed blocks (reason
// "overwrite", with the usual four steps and ledger proof), in batches,
// once the reserve of free blocks is down to its low mark, until it is
// full or nothing more may be erased. Run calls it; it is exported for
// tests and tools.
func (r *Ring) RefillReserve() error {
	r.syncMu.Lock()
	defer r.syncMu.Unlock()
	for first := true; ; first = false {
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			return ErrClosed
		}
		free := r.free.len()
		want := r.reserveWantLocked()
		if free >= want || (first && free > r.reserveLowLocked(want)) {
			r.mu.Unlock()
			return nil
		}
		// Holds re-read for every batch: one placed while the previous
		// batch was being erased protects its blocks.
		r.activeHoldsLocked()
		vs := r.oldestUnheldNLocked(min(want-free, r.o.eraseBatch))
		if len(vs) == 0 {
			r.mu.Unlock()
			return nil // everything left is open or held
		}
		for _, v := range vs {
			r.markErasingLocked(v, reasonOverwrite)
		}
		r.mu.Unlock()
		if err := r.eraseBlocks(vs); err != nil {
			// The blocks stay erasing; the sweeper retries them.
			return err
		}
		r.reserveErasures.Add(uint64(len(vs)))
	}
}

// InlineErasures counts blocks an append had to erase itself because no
// free block was ready (the reserve ran dry or Run is not running).
func (r *Ring) InlineErasures() uint64 { return r.inlineErasures.Load() }

// ReserveErasures counts blocks erased ahead of need by RefillReserve.
func (r *Ring) ReserveErasures() uint64 { return r.reserveErasures.Load() }
