package ring

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"

	"mimamori/core"
)

// Hold expiry on ring time. core gives each hold a wall-clock Until; the
// first time the ring sees a hold it turns the time left (Until − wall
// now) into a deadline on ring time and keeps it in index.db. From then
// on the hold lapses when ring time passes the deadline, whatever the
// wall clock does. Seeing holds happens every sync tick, so a new hold's
// deadline is fixed within a second of its creation, with the same wall
// clock core used for Until.

// holdLookback is how far before the trusted time the ring asks core for
// holds (core hands over every unreleased hold whose Until is after the
// time asked), so a hold whose Until the wall clock has jumped past is
// still handed over and judged here.
const holdLookback = 24 * time.Hour

// deadlineKeep: a lapsed hold's deadline is forgotten once core has not
// handed the hold over for this long and it lapsed more than this or the
// retention ago. Forgotten any sooner, a wall clock set back days would
// get it handed over again and judged afresh — alive again, keeping
// footage past its retention; forgotten this late, any footage it covered
// (recorded before it lapsed) is past retention already.
const deadlineKeep = 48 * time.Hour

type holdDeadline struct {
	until    int64 // the hold's Until (unix ns) when the deadline was fixed
	deadline int64 // ring time at which the hold lapses
	fixedAt  int64 // ring time it was fixed (0 from earlier releases): a reboot's credit applies to deadlines fixed before the reboot
}

func holdKey(h core.HoldRange) string {
	if h.HoldID != "" {
		return "id:" + h.HoldID
	}
	return fmt.Sprintf("r:%s|%d|%d", h.Camera, h.From.UnixNano(), h.To.UnixNano())
}

func (d holdDeadline) encode() []byte {
	b := make([]byte, 24)
	binary.BigEndian.PutUint64(b, uint64(d.until))
	binary.BigEndian.PutUint64(b[8:], uint64(d.deadline))
	binary.BigEndian.PutUint64(b[16:], uint64(d.fixedAt))
	return b
}

func (r *Ring) loadDeadlines(tx *bolt.Tx) error {
	return tx.Bucket(bktHolds).ForEach(func(k, v []byte) error {
		if len(v) != 16 && len(v) != 24 {
			return fmt.Errorf("%w: hold deadline of %d bytes", ErrCorrupt, len(v))
		}
		d := holdDeadline{until: int64(binary.BigEndian.Uint64(v)), deadline: int64(binary.BigEndian.Uint64(v[8:]))}
		if len(v) == 24 {
			d.fixedAt = int64(binary.BigEndian.Uint64(v[16:]))
		}
		r.deadlines[string(k)] = d
		return nil
	})
}

// activeHoldsLocked asks the HoldSource for the holds that may still be in
// force, keeps those whose deadline on ring time has not passed, and
// applies them to the held flags (applyHoldsLocked). It is read right
// before blocks are chosen for erasure, so a hold placed meanwhile is
// seen. The HoldSource must not call back into the ring (core's reads a
// snapshot). Caller holds syncMu and r.mu; a change of holds lets go of
// r.mu for a moment now and then (appends go on), never of syncMu.
func (r *Ring) activeHoldsLocked() []core.HoldRange {
	if r.o.Holds == nil {
		return nil
	}
	now := r.clock.now()
	wall := r.o.Now()
	ask := r.clock.trustedWall()
	if wall.Before(ask) {
		ask = wall
	}
	ask = ask.Add(-holdLookback)
	hs := r.o.Holds.ActiveHolds(ask)
	out := hs[:0:0]
	for _, h := range hs {
		if h.Until.IsZero() {
			out = append(out, h)
			continue
		}
		k := holdKey(h)
		d, ok := r.deadlines[k]
		switch {
		case !ok:
			d = holdDeadline{until: h.Until.UnixNano(), deadline: now + (h.Until.UnixNano() - wall.UnixNano()), fixedAt: now}
		case d.until != h.Until.UnixNano():
			// Until changed (a hold extended or shortened): move the
			// deadline by the same amount.
			d.deadline += h.Until.UnixNano() - d.until
			d.until = h.Until.UnixNano()
		}
		if !ok || d.until != r.deadlines[k].until {
			r.deadlines[k] = d
			r.dlDirty[k] = struct{}{}
		}
		r.dlSeen[k] = now
		if now < d.deadline {
			out = append(out, h)
		}
	}
	r.applyHoldsLocked(out)
	return out
}

// creditDowntimeLocked applies a reboot's downtime, credited once the wall
// clock was confirmed (clock.go), to what was stamped before the reboot
// (ring time ≤ bootE): those blocks and hold deadlines age by it. What was
// recorded or held since the reboot is not aged.
// Caller holds r.mu.
func (r *Ring) creditDowntimeLocked(credit, bootE int64) {
	if credit <= 0 {
		return
	}
	// Blocks: recorded in the credits, applied when their stamps are
	// read (Ring.effE), committed with the clock; the erasure order does
	// not change (older stamps only grow older), nor does the table.
	cs := append(slices.Clone(r.credits), creditEntry{bootE: bootE, credit: credit})
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].bootE < cs[j].bootE })
	r.setCredits(cs)
	r.creditsDirty = true
	for k, d := range r.deadlines {
		if d.fixedAt > bootE {
			continue
		}
		d.deadline -= credit
		r.deadlines[k] = d
		r.dlDirty[k] = struct{}{}
	}
}

// observeHolds fixes the deadline of any hold not seen before (Run calls
// it every sync tick).
func (r *Ring) observeHolds() {
	r.syncMu.Lock() // applying a change of holds needs it (applyHoldsLocked)
	defer r.syncMu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.activeHoldsLocked()
	}
}

// holdDeadlinesTx writes changed deadlines and drops those long lapsed.
// Caller holds syncMu (inside the Sync transaction).
func (r *Ring) takeDeadlineChanges() (put map[string]holdDeadline, del []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.clock.now()
	put = make(map[string]holdDeadline, len(r.dlDirty))
	for k := range r.dlDirty {
		put[k] = r.deadlines[k]
	}
	clear(r.dlDirty)
	keep := int64(max(deadlineKeep, r.o.Retention))
	for k, d := range r.deadlines {
		seen, ok := r.dlSeen[k]
		if !ok {
			seen = now // loaded from index.db and not asked about since this start
			r.dlSeen[k] = now
		}
		if now > d.deadline+keep && now > seen+int64(deadlineKeep) {
			delete(r.deadlines, k)
			delete(r.dlSeen, k)
			delete(put, k)
			del = append(del, k)
		}
	}
	return put, del
}
