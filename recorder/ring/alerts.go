package ring

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"mimamori/core"
)

// Alerts: storage conditions a technician must act on, computed from
// in-memory state only (Stats never waits for the disk), shown on the
// console's storage screen and in `health --json`. State changes are also
// ledgered as recording events (core coalesces repeats).
const (
	// stallAfter: a disk operation outstanding this long is a stall.
	stallAfter = 3 * time.Second
	// errorWindow: a write error or ENOSPC this recent keeps its alert up.
	errorWindow = 10 * time.Minute
	// lowSpace: less free space than this beside the ring is "disk full":
	// index.db and the ledger can no longer grow.
	lowSpace = 64 << 20
)

// Alert kinds.
const (
	AlertDiskFull       = "disk-full"
	AlertWriteErrors    = "write-errors"
	AlertStarved        = "camera-starved"
	AlertDiskStall      = "disk-stall"
	AlertClockStep      = "clock-step"
	AlertDamaged        = "damaged-footage"
	AlertHoldsOverShare = "holds-over-share"
	AlertCopyOnWrite    = "copy-on-write-fs"
)

// ioTracker knows when the oldest disk operation in flight began.
type ioTracker struct {
	mu     sync.Mutex
	next   uint64
	starts map[uint64]time.Time
}

// begin registers an operation; call the returned func when it is done.
func (t *ioTracker) begin() func() {
	t.mu.Lock()
	if t.starts == nil {
		t.starts = map[uint64]time.Time{}
	}
	id := t.next
	t.next++
	t.starts[id] = time.Now()
	t.mu.Unlock()
	return func() {
		t.mu.Lock()
		delete(t.starts, id)
		t.mu.Unlock()
	}
}

// oldest is when the oldest operation in flight began (zero if none).
func (t *ioTracker) oldest() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	var o time.Time
	for _, s := range t.starts {
		if o.IsZero() || s.Before(o) {
			o = s
		}
	}
	return o
}

type eventReq struct {
	camera, kind string
	at           time.Time
	details      map[string]string
}

// event queues a recording event for the event log without blocking: the
// ledger may sit on the same stalled disk. A full queue drops and counts.
func (r *Ring) event(camera, kind string, details map[string]string) {
	select {
	case r.events <- eventReq{camera: camera, kind: kind, at: r.o.Now().UTC(), details: details}:
	default:
		r.eventsDropped.Add(1)
	}
}

// eventLocked is event for callers holding r.mu (it takes no lock).
func (r *Ring) eventLocked(camera, kind string, details map[string]string) {
	r.event(camera, kind, details)
}

// emitEvents hands queued events to the event log until ctx is done.
func (r *Ring) emitEvents(ctx context.Context) {
	var dropped uint64
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-r.events:
			if n := r.eventsDropped.Load(); n != dropped {
				// Not silent: a lost state change (disk-full-end, say)
				// leaves the ledger's state wrong until the next one.
				r.errorByRate("ring events dropped", "ring events dropped: the event queue was full", "dropped_total", n)
				dropped = n
			}
			if r.o.Events == nil {
				continue
			}
			if err := r.o.Events.RecordEvent(core.RecordingEvent{Camera: ev.camera, Kind: ev.kind, At: ev.at, Details: ev.details}); err != nil {
				r.errorByRate("cannot record event", "cannot record event", "kind", ev.kind, "camera", ev.camera, "err", err)
			}
		}
	}
}

// stallWatch raises and clears the disk-stall state (ledgered on change).
type stallWatch struct{ since time.Time }

func (r *Ring) watchStall(w *stallWatch) {
	o := r.io.oldest()
	stalled := !o.IsZero() && time.Since(o) >= stallAfter
	switch {
	case stalled && w.since.IsZero():
		w.since = o
		r.event("", "disk-stall", map[string]string{"since": o.UTC().Format(time.RFC3339Nano)})
	case !stalled && !w.since.IsZero():
		r.event("", "disk-stall-end", map[string]string{"lasted": time.Since(w.since).Round(time.Millisecond).String()})
		w.since = time.Time{}
	}
}

// alerts computes the current alerts. It takes only in-memory locks.
func (r *Ring) alerts(st core.RingStats) []core.RingAlert {
	now := time.Now()
	var out []core.RingAlert
	r.statsMu.Lock()
	lastErrAt, lastErr, noSpaceAt, fsType := r.lastErrAt, r.lastErr, r.noSpaceAt, r.fsType
	indexFaults, indexFaultAt, indexFaultMsg := r.indexFaults, r.indexFaultAt, r.indexFaultMsg
	r.statsMu.Unlock()
	if st.DiskFreeBytes < lowSpace || (!noSpaceAt.IsZero() && now.Sub(noSpaceAt) < errorWindow) {
		since := noSpaceAt
		if since.IsZero() {
			since = now
		}
		out = append(out, core.RingAlert{Kind: AlertDiskFull, Since: since.UTC(),
			Detail: fmt.Sprintf("%d bytes free beside the ring", st.DiskFreeBytes)})
	}
	if !lastErrAt.IsZero() && now.Sub(lastErrAt) < errorWindow {
		out = append(out, core.RingAlert{Kind: AlertWriteErrors, Since: lastErrAt.UTC(),
			Detail: fmt.Sprintf("%d write errors; last: %s", st.WriteErrors, lastErr)})
	}
	if o := r.io.oldest(); !o.IsZero() && now.Sub(o) >= stallAfter {
		out = append(out, core.RingAlert{Kind: AlertDiskStall, Since: o.UTC(),
			Detail: fmt.Sprintf("a disk operation has waited %s", now.Sub(o).Round(time.Second))})
	}
	r.mu.Lock()
	keyless := r.keyless
	for _, c := range r.cams {
		if !c.starvedSince.IsZero() {
			out = append(out, core.RingAlert{Kind: AlertStarved, Camera: c.name, Since: c.starvedSince,
				Detail: "no ring block free or erasable: every block is open or held"})
		}
	}
	r.mu.Unlock()
	if st.HeldBytes > st.HoldLimitBytes {
		out = append(out, core.RingAlert{Kind: AlertHoldsOverShare, Since: now.UTC(),
			Detail: fmt.Sprintf("holds pin %d bytes, more than the %d-byte hold share", st.HeldBytes, st.HoldLimitBytes)})
	}
	if st.ClockSteps > 0 {
		out = append(out, core.RingAlert{Kind: AlertClockStep, Since: st.LastClockStep,
			Detail: fmt.Sprintf("%d wall-clock steps; last by %s (erasure and holds follow ring time)", st.ClockSteps, st.LastClockStepBy)})
	}
	if st.DamagedFragments > 0 || keyless > 0 || indexFaults > 0 {
		since := now.UTC()
		if len(st.Damaged) > 0 {
			since = st.Damaged[0].Start
		}
		if indexFaults > 0 {
			since = indexFaultAt.UTC()
		}
		var parts []string
		if indexFaults > 0 {
			parts = append(parts, fmt.Sprintf("index.db is damaged (%d operations failed on it; first: %s). %s",
				indexFaults, indexFaultMsg, indexDamageAdvice))
		}
		if st.DamagedFragments > 0 {
			parts = append(parts, fmt.Sprintf("%d damaged fragments skipped in playback and exports", st.DamagedFragments))
		}
		if keyless > 0 {
			parts = append(parts, fmt.Sprintf("keys.dat lacks the keys of %d blocks: their footage cannot be read", keyless))
		}
		out = append(out, core.RingAlert{Kind: AlertDamaged, Since: since, Detail: strings.Join(parts, "; ")})
	}
	if copyOnWrite(fsType) {
		out = append(out, core.RingAlert{Kind: AlertCopyOnWrite, Since: now.UTC(),
			Detail: "ring.dat is on a copy-on-write file system: overwritten keys may survive in old extents; use ext4 or xfs"})
	}
	return out
}

// copyOnWrite: btrfs, zfs and bcachefs write new extents instead of
// overwriting, so a destroyed key can survive in the old one.
func copyOnWrite(fsType int64) bool {
	switch uint32(fsType) {
	case 0x9123683e, 0x2fc12fc1, 0xca451a4e: // btrfs, zfs, bcachefs
		return true
	}
	return false
}
