package ring

import (
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"mimamori/core"
)

var errProcessDied = errors.New("the process died here")

// dyingLedger is core's store in front of a process that dies at one
// point of erasure step 3: "before" the proofs are committed, or "after"
// they are (and before the ring frees the blocks). It remembers what was
// handed over while armed and after.
type dyingLedger struct {
	st    *core.Store
	after bool

	mu      sync.Mutex
	armed   bool
	offered []core.Erasure // while armed
	redone  []core.Erasure // after the restart
}

func (l *dyingLedger) RecordErasure(e core.Erasure) error { return l.RecordErasures([]core.Erasure{e}) }

func (l *dyingLedger) RecordErasures(es []core.Erasure) error {
	l.mu.Lock()
	armed := l.armed
	if armed {
		l.offered = append(l.offered, es...)
	} else {
		l.redone = append(l.redone, es...)
	}
	l.mu.Unlock()
	if !armed || l.after {
		if err := l.st.RecordErasures(es); err != nil {
			return err
		}
	}
	if armed {
		return errProcessDied
	}
	return nil
}

// The process dies in erasure step 3, before or after core committed the
// proofs; the keys are destroyed, the blocks still "erasing". After the
// restart (ring and core opened anew on the same files) the ring redoes
// the erasures, and the ledger proves each block exactly once: not zero
// times (before), not twice (after; core's bounded dedup).
func TestErasureRedoneAfterCrashIsProvenOnce(t *testing.T) {
	for _, after := range []bool{false, true} {
		name := "before-proof"
		if after {
			name = "after-proof"
		}
		t.Run(name, func(t *testing.T) {
			e, st, o := certainRig(t, time.Minute)
			led := &dyingLedger{st: st, after: after}
			o.Erasures = led
			r := mustOpen(t, o)
			id, _ := r.AppendInit("cam1", initFor("cam1"))
			appendSeq(t, r, e, "cam1", id, 0, 30, fragSize) // 5 blocks
			if err := r.Sync(); err != nil {
				t.Fatal(err)
			}
			led.mu.Lock()
			led.armed = true
			led.mu.Unlock()
			if err := sweepAt(r, e, t0.Add(2*time.Minute)); !errors.Is(err, errProcessDied) {
				t.Fatalf("sweep: %v", err)
			}
			crash(r)
			if err := st.Close(); err != nil { // what core committed stays; pending proofs are written at its next open
				t.Fatal(err)
			}
			led.mu.Lock()
			led.armed = false
			offered := len(led.offered)
			led.mu.Unlock()
			if offered < 4 {
				t.Fatalf("%d proofs handed over before the crash, want the expired blocks'", offered)
			}

			st2, err := core.Open(filepath.Join(e.dir, "mimamori.db"), core.Options{Now: e.clock.Now, Policy: core.CityStandard()})
			if err != nil {
				t.Fatal(err)
			}
			defer st2.Close()
			led.st = st2
			o.Holds, o.Events = st2, st2
			r = mustOpen(t, o) // recovery redoes the erasures
			defer r.Close()
			led.mu.Lock()
			redone := map[[2]uint64]bool{}
			for _, p := range led.redone {
				redone[[2]uint64{uint64(p.Block), p.Generation}] = true
			}
			for _, p := range led.offered {
				if !redone[[2]uint64{uint64(p.Block), p.Generation}] {
					t.Errorf("block %d generation %d was not handed over again after the restart", p.Block, p.Generation)
				}
			}
			led.mu.Unlock()
			if n := erasedBlocks(t, st2, "retention"); n != offered {
				t.Fatalf("the ledger proves %d erased blocks, %d were erased", n, offered)
			}
			if n := countStates(r)[stateErasing]; n != 0 {
				t.Fatalf("%d blocks still erasing after the redo", n)
			}
			checkBook(t, r)
		})
	}
}
