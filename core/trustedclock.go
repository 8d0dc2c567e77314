package core

import "time"

// TrustedClock is a clock no wall-clock step moves: the recorder's ring
// time as wall time (ring.Ring.TrustedNow). It is what decides, in core,
// whether a hold is still in force and whether the appliance's copy of an
// export package may go; the wall clock only stamps records and bounds
// what people type.
type TrustedClock interface {
	TrustedNow() time.Time
}

// SetTrustedClock gives core the recorder's trusted clock (the appliance
// sets it once the recorder is open).
func (s *Store) SetTrustedClock(c TrustedClock) {
	s.footMu.Lock()
	s.trusted = c
	s.footMu.Unlock()
}

// TrustedNow is the time at which holds lapse and footage expires for
// core: the earlier of the trusted clock and the wall clock, so a step of
// the wall clock either way makes a hold end, or a copy go, late and
// never early (the ring asks for holds the same way). Without a trusted
// clock it is the wall clock.
func (s *Store) TrustedNow() time.Time {
	now := s.nowUTC()
	s.footMu.RLock()
	c := s.trusted
	s.footMu.RUnlock()
	if c == nil {
		return now
	}
	if t := c.TrustedNow().UTC(); t.Before(now) {
		return t
	}
	return now
}
