package core

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Hold keeps a camera's [From, To) from being overwritten or expiring
// until Until (001 §5-3).
type Hold struct {
	ID            string    `json:"ID"`
	Camera        string    `json:"Camera"`
	Reason        string    `json:"Reason"`
	Kind          string    `json:"Kind"` // "extension" (manager) or "provisional" (placed by a request)
	RequestID     string    `json:"RequestID"`
	CreatedBy     string    `json:"CreatedBy"`
	From          time.Time `json:"From"`
	To            time.Time `json:"To"`
	Until         time.Time `json:"Until"`
	CreatedAt     time.Time `json:"CreatedAt"`
	ReleasedAt    time.Time `json:"ReleasedAt"`
	ReleaseReason string    `json:"ReleaseReason"`
	// CreatedByKey is the fingerprint of the key that placed it (for the
	// per-operator cap on provisional holds); empty in older records.
	CreatedByKey string `json:"CreatedByKey,omitempty"`
}

const (
	HoldExtension   = "extension"
	HoldProvisional = "provisional"
)

// HoldInput is what a manager gives to extend retention.
type HoldInput struct {
	Camera string
	From   time.Time
	To     time.Time
	Until  time.Time
	Reason string
}

// ActiveAt reports whether the hold still protects footage at t.
func (h Hold) ActiveAt(t time.Time) bool { return h.ReleasedAt.IsZero() && t.Before(h.Until) }

func (h Hold) holdRange() HoldRange {
	return HoldRange{HoldID: h.ID, Camera: h.Camera, From: h.From, To: h.To, Until: h.Until}
}

func holdDetails(h Hold) map[string]string {
	return map[string]string{"camera": h.Camera, "from": fmtTime(h.From), "to": fmtTime(h.To),
		"until": fmtTime(h.Until), "kind": h.Kind, "reason": h.Reason, "request": h.RequestID}
}

// AddHold extends retention of a camera's range (manager).
func (s *Store) AddHold(actor Actor, in HoldInput) (Hold, error) {
	if _, err := s.authorize(actor, ActionHoldAdd, in.Camera); err != nil {
		return Hold{}, err
	}
	now := s.nowUTC()
	if err := validID("camera", in.Camera); err != nil {
		return Hold{}, err
	}
	if s.policy.ExtensionNeedsReason || in.Reason != "" {
		if err := validName("reason", in.Reason, 2000); err != nil {
			return Hold{}, err
		}
	}
	if in.From.IsZero() || in.To.IsZero() || !in.From.Before(in.To) {
		return Hold{}, Invalid("to", "from must be before to")
	}
	if !in.Until.After(now) {
		return Hold{}, Invalid("until", "must be in the future")
	}
	// Footage from up to windowFootage ago, up to when the hold ends.
	if err := checkDate("from", in.From, now, windowFootage); err != nil {
		return Hold{}, err
	}
	if err := checkDate("until", in.Until, now, windowHoldUntil); err != nil {
		return Hold{}, err
	}
	if in.To.After(in.Until) {
		return Hold{}, Invalid("to", "after until: footage not yet recorded when the hold ends cannot be held")
	}
	if max := s.policy.MaxExtensionDays; max > 0 && in.Until.Sub(now) > time.Duration(max)*24*time.Hour {
		return Hold{}, Invalid("until", fmt.Sprintf("more than %d days ahead (policy %s)", max, s.policy.Name))
	}
	h := Hold{Camera: in.Camera, Reason: in.Reason, Kind: HoldExtension, CreatedBy: actor.label(),
		From: in.From.UTC(), To: in.To.UTC(), Until: in.Until.UTC(), CreatedAt: now}

	// Capacity check against the recorder, serialised with other hold
	// writes so two holds cannot both squeeze into the last free share.
	s.holdMu.Lock()
	defer s.holdMu.Unlock()
	if f := s.foot(); f != nil {
		// Provisional holds do not count here: a manager's hold is
		// checked against the other managers' holds only, so operators'
		// requests can never use up the share the manager needs.
		ext, err := s.activeHolds(s.TrustedNow(), HoldExtension)
		if err != nil {
			return Hold{}, err
		}
		if err := f.CheckHold(h.Camera, h.From, h.To, ext); err != nil {
			return Hold{}, fmt.Errorf("%w: %w", ErrConflict, err)
		}
	}
	h.CreatedByKey = actor.Fingerprint
	_, err := s.mutate(actor, ActionHoldAdd, in.Camera, func(tx *bolt.Tx) ([]draft, error) {
		if _, err := getCamera(tx, h.Camera); err != nil {
			return nil, err
		}
		id, err := nextID(tx, "H", now)
		if err != nil {
			return nil, err
		}
		h.ID = id
		if err := putJSON(tx.Bucket(bHolds), id, h); err != nil {
			return nil, err
		}
		return []draft{{Subject: id, Details: holdDetails(h)}}, nil
	})
	if err != nil {
		return Hold{}, err
	}
	s.refreshHolds()
	return h, nil
}

// ReleaseHold ends a hold now (manager).
func (s *Store) ReleaseHold(actor Actor, id, reason string) error {
	if _, err := s.authorize(actor, ActionHoldRelease, id); err != nil {
		return err
	}
	if err := validName("reason", reason, 2000); err != nil {
		return err
	}
	now := s.nowUTC()
	s.holdMu.Lock()
	defer s.holdMu.Unlock()
	_, err := s.mutate(actor, ActionHoldRelease, id, func(tx *bolt.Tx) ([]draft, error) {
		b := tx.Bucket(bHolds)
		var h Hold
		found, err := getJSON(b, id, &h)
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, notFound("hold", id)
		}
		if !h.ReleasedAt.IsZero() {
			return nil, fmt.Errorf("%w: hold %s was already released", ErrConflict, id)
		}
		h.ReleasedAt, h.ReleaseReason = now, reason
		if err := putJSON(b, id, h); err != nil {
			return nil, err
		}
		return []draft{{Subject: id, Details: map[string]string{"camera": h.Camera, "reason": reason,
			"was_active": strconv.FormatBool(now.Before(h.Until))}}}, nil
	})
	if err != nil {
		return err
	}
	s.refreshHolds()
	return nil
}

// Holds lists every hold, newest first.
func (s *Store) Holds(actor Actor) ([]Hold, error) {
	out, err := readAll[Hold](s, actor, ActionHoldsRead, bHolds)
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out, err
}

// ActiveHolds is for the recorder: what must not be erased at now. It
// reads an in-memory snapshot rebuilt after every hold change, sorted by
// Until, latest first, so it reads only what it returns.
func (s *Store) ActiveHolds(now time.Time) []HoldRange {
	p := s.holds.Load()
	if p == nil {
		return nil
	}
	n := sort.Search(len(*p), func(i int) bool { return !now.Before((*p)[i].Until) })
	return slices.Clone((*p)[:n])
}

// reloadHolds rebuilds the active-holds snapshot from the database: every
// hold not released, whatever its Until. The recorder judges lapse on its
// own clock, which a wall clock set wrong (a year ahead at boot, say)
// does not move, so no hold may be dropped here by this process's wall
// clock. Memory: about 100 bytes per hold ever placed and not released.
func (s *Store) reloadHolds() error {
	var act []HoldRange
	err := s.db.View(func(tx *bolt.Tx) error {
		hs, err := listJSON[Hold](tx, bHolds)
		for _, h := range hs {
			if h.ReleasedAt.IsZero() {
				act = append(act, h.holdRange())
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	sort.SliceStable(act, func(i, j int) bool { return act[i].Until.After(act[j].Until) })
	s.holds.Store(&act)
	return nil
}

func (s *Store) refreshHolds() {
	if err := s.reloadHolds(); err != nil {
		s.log.Error("holds: reload snapshot", "err", err)
	}
}

// ReleaseRequestHolds ends every active hold of request id now, in one
// act and one transaction (manager): one hold.release entry per hold. It
// returns the ids released.
func (s *Store) ReleaseRequestHolds(actor Actor, id, reason string) ([]string, error) {
	if _, err := s.authorize(actor, ActionHoldRelease, id); err != nil {
		return nil, err
	}
	if err := validName("reason", reason, 2000); err != nil {
		return nil, err
	}
	now := s.nowUTC()
	s.holdMu.Lock()
	defer s.holdMu.Unlock()
	var released []string
	_, err := s.mutate(actor, ActionHoldRelease, id, func(tx *bolt.Tx) ([]draft, error) {
		released = released[:0]
		if _, err := getRequest(tx, id); err != nil {
			return nil, err
		}
		hs, err := listJSON[Hold](tx, bHolds)
		if err != nil {
			return nil, err
		}
		var drafts []draft
		b := tx.Bucket(bHolds)
		for _, h := range hs {
			if h.RequestID != id || !h.ReleasedAt.IsZero() {
				continue
			}
			h.ReleasedAt, h.ReleaseReason = now, reason
			if err := putJSON(b, h.ID, h); err != nil {
				return nil, err
			}
			released = append(released, h.ID)
			drafts = append(drafts, draft{Subject: h.ID, Details: map[string]string{"camera": h.Camera, "reason": reason,
				"request": id, "was_active": strconv.FormatBool(now.Before(h.Until))}})
		}
		if len(drafts) == 0 {
			return nil, fmt.Errorf("%w: request %s has no hold to release", ErrConflict, id)
		}
		return drafts, nil
	})
	if err != nil {
		return nil, err
	}
	s.refreshHolds()
	return released, nil
}

// activeHolds reads the holds of kind (all kinds if "") active at now.
func (s *Store) activeHolds(now time.Time, kind string) ([]HoldRange, error) {
	var out []HoldRange
	err := s.db.View(func(tx *bolt.Tx) error {
		hs, err := listJSON[Hold](tx, bHolds)
		for _, h := range hs {
			if h.ActiveAt(now) && (kind == "" || h.Kind == kind) {
				out = append(out, h.holdRange())
			}
		}
		return err
	})
	return out, err
}

// Bounds on provisional holds: a request holds at most this many cameras,
// and one key's requests at most maxProvisionalPerKey holds at a time;
// each covers the request's range cut at now (footage not yet recorded
// is no evidence) and lasts the policy's ProvisionalHoldDays. They are
// placed only within the hold share, and never count against a manager's
// hold (AddHold): the manager's share is the whole share, operators'
// provisional holds only ever take what is left of it when placed.
const (
	maxProvisionalPerRequest = 16
	maxProvisionalPerKey     = 64
)

// provisionalPlan decides the provisional holds a new request of actor
// places: the range each camera's hold gets, or why it gets none. The
// caller holds s.holdMu.
func (s *Store) provisionalPlan(actor Actor, cameras []string, from, to, now, until time.Time) (map[string]HoldRange, map[string]string, error) {
	plan, notes := map[string]HoldRange{}, map[string]string{}
	if to.After(now) {
		to = now // footage not yet recorded is not evidence of the request
	}
	// Which holds are still in force is judged on the trusted clock: a
	// wall clock stepped ahead must not free the share early.
	lapse := s.TrustedNow()
	active, err := s.activeHolds(lapse, "")
	if err != nil {
		return nil, nil, err
	}
	mine := 0
	err = s.db.View(func(tx *bolt.Tx) error {
		hs, err := listJSON[Hold](tx, bHolds)
		for _, h := range hs {
			if h.Kind == HoldProvisional && h.CreatedByKey == actor.Fingerprint && h.ActiveAt(lapse) {
				mine++
			}
		}
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	f := s.foot()
	for i, c := range cameras {
		switch {
		case !from.Before(to):
			notes[c] = "the requested range has not been recorded yet"
			continue
		case i >= maxProvisionalPerRequest:
			notes[c] = fmt.Sprintf("a request holds at most %d cameras provisionally", maxProvisionalPerRequest)
			continue
		case mine >= maxProvisionalPerKey:
			notes[c] = fmt.Sprintf("this key's requests already hold %d ranges provisionally", maxProvisionalPerKey)
			continue
		}
		if f != nil {
			if err := f.CheckHold(c, from, to, active); err != nil {
				notes[c] = err.Error()
				continue
			}
		}
		hr := HoldRange{Camera: c, From: from, To: to, Until: until}
		active = append(active, hr)
		plan[c] = hr
		mine++
	}
	return plan, notes, nil
}
