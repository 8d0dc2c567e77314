package tui

import (
	"time"

	"mimamori/core"
)

// data is the session's latest snapshot of what it has read from core.
// Pages render from it; only Update writes it.
type data struct {
	policy    core.Policy
	hasPolicy bool

	cams       []core.Camera
	camsErr    error
	camsLoaded bool
	warnings   []core.Warning       // what the records lack (000 §4, §7; 001 §2, §8)
	sched      []core.InspectionDue // inspection schedule (001 §8-1)

	stats       core.RecorderStats
	statsErr    error
	statsLoaded bool

	holds    []core.Hold
	holdsErr error

	reqs       []core.Request
	reqsErr    error
	reqsLoaded bool

	ledger       core.LedgerPage // the page on screen (ledger tab)
	ledgerView   ledgerView      // which page, classes and filter
	ledgerErr    error
	ledgerLoaded bool
	checkpoint   *core.Checkpoint

	verify       core.VerifyReport
	verifyErr    error
	verifyLoaded bool

	// The upkeep tab (maintenance read): custody of the recorder, layout
	// plans and the maintenance log. Human records: a few a week.
	custody      []core.CustodyRecord
	plans        []core.LayoutPlan
	maint        []core.MaintenanceRecord
	upkeepErr    error
	upkeepLoaded bool

	keys       []core.Key
	refused    []core.RefusedKey
	keysErr    error
	keysLoaded bool

	// Coverage is loaded for the cameras the recordings tab shows (its
	// rows coverFirst.. +coverRows; every camera until it has laid out)
	// and for more as it scrolls: at 64 cameras a whole retention of each
	// was minutes of the recorder's CPU every 30 s.
	cover         map[string][]core.Span
	coverFrom     time.Time
	coverTo       time.Time
	coverErr      error
	coverLoaded   bool
	coverLoadedAt time.Time
	coverFirst    int
	coverRows     int
}

// coverIDs are the cameras whose rows the recordings tab shows.
func (d *data) coverIDs() []string {
	ids := make([]string, 0, len(d.cams))
	for _, c := range d.cams {
		if c.Status != core.CameraRemoved {
			ids = append(ids, c.ID)
		}
	}
	if d.coverRows > 0 {
		a := min(d.coverFirst, len(ids))
		ids = ids[a:min(a+d.coverRows, len(ids))]
	}
	return ids
}

// coverMissing reports whether a shown camera has no coverage loaded.
func (d *data) coverMissing() bool {
	for _, id := range d.coverIDs() {
		if _, ok := d.cover[id]; !ok {
			return true
		}
	}
	return false
}

// retention is the policy's target, or the recorder's if the policy is
// unknown, or a week (seed 000) as a last resort.
func (d *data) retention() time.Duration {
	if d.hasPolicy && d.policy.RetentionDays > 0 {
		return d.policy.Retention()
	}
	for _, c := range d.stats.Cameras {
		if c.TargetRetain > 0 {
			return c.TargetRetain
		}
	}
	return 7 * 24 * time.Hour
}

// camStats finds a camera's live stats.
func (d *data) camStats(id string) (core.CameraStats, bool) {
	for _, c := range d.stats.Cameras {
		if c.Camera == id {
			return c, true
		}
	}
	return core.CameraStats{}, false
}

// inspection finds a camera's place in the inspection schedule.
func (d *data) inspection(id string) (core.InspectionDue, bool) {
	for _, x := range d.sched {
		if x.Camera == id {
			return x, true
		}
	}
	return core.InspectionDue{}, false
}

// camera finds a camera in the register.
func (d *data) camera(id string) (core.Camera, bool) {
	for _, c := range d.cams {
		if c.ID == id {
			return c, true
		}
	}
	return core.Camera{}, false
}

// activeHolds lists the holds on a camera still in force at now.
func (d *data) activeHolds(cam string, now time.Time) []core.Hold {
	var out []core.Hold
	for _, h := range d.holds {
		if h.Camera == cam && h.ActiveAt(now) {
			out = append(out, h)
		}
	}
	return out
}
