package core

import (
	"fmt"
	"time"
)

// Dates a person gives are bounded to a window around now, per kind of
// field, so a typo or a hostile value (0001-01-01, 9999-12-31, 1970) is
// refused with the window it missed. One table, used by every input.
type dateWindow struct {
	past, future time.Duration // how far before / after now
}

const (
	day  = 24 * time.Hour
	year = 366 * day
)

var (
	// windowFootage: a range of recorded footage (requests, grants,
	// holds, views). Older footage than this is long overwritten.
	windowFootage = dateWindow{past: 2 * year, future: day}
	// windowReceived: when paperwork arrived (a request, an inquiry).
	windowReceived = dateWindow{past: year, future: day}
	// windowEvent: when something was done (maintenance, disposal,
	// custody arrangements), possibly recorded late.
	windowEvent = dateWindow{past: 10 * year, future: day}
	// windowHoldUntil / windowGrantUntil: how far ahead a hold or a
	// viewer grant may end (the policy's own limit may be tighter).
	windowHoldUntil  = dateWindow{past: 0, future: 5 * year}
	windowGrantUntil = dateWindow{past: 0, future: 90 * day}
)

// Longest ranges of footage one request or one grant may name.
const (
	maxRequestSpan = 31 * day
	maxGrantSpan   = 31 * day
)

// checkDate refuses a zero t or one outside w around now.
func checkDate(field string, t, now time.Time, w dateWindow) error {
	if t.IsZero() {
		return Invalid(field, "required")
	}
	lo, hi := now.Add(-w.past), now.Add(w.future)
	if t.Before(lo) || t.After(hi) {
		return Invalid(field, fmt.Sprintf("%s is outside %s … %s", t.UTC().Format(time.RFC3339),
			lo.UTC().Format("2006-01-02"), hi.UTC().Format("2006-01-02")))
	}
	return nil
}

// checkRange checks [from, to) of footage: both in windowFootage, from
// before to, and at most max long (max <= 0: no bound).
func checkRange(from, to, now time.Time, max time.Duration) error {
	if err := checkDate("from", from, now, windowFootage); err != nil {
		return err
	}
	if err := checkDate("to", to, now, windowFootage); err != nil {
		return err
	}
	if !from.Before(to) {
		return Invalid("to", "must be after from")
	}
	if max > 0 && to.Sub(from) > max {
		return Invalid("to", fmt.Sprintf("the range is longer than %d days", int(max/day)))
	}
	return nil
}

// checkEventDate is checkDate for windowEvent where zero means "now".
func checkEventDate(field string, t, now time.Time) error {
	if t.IsZero() {
		return nil
	}
	return checkDate(field, t, now, windowEvent)
}
