package core

import (
	"sync"
	"time"
)

// One key's changes are rate-limited: a person works at a person's pace,
// a script at most at changeRate, and a runaway or hostile key cannot
// grow the ledger faster than that whatever it calls. Logins and logouts
// are bounded by the SSH layer (a per-key session rate) and the
// appliance's own records (RoleSystem) by their own coalescing, so
// neither counts here. Refusals are ledgered like other refusals:
// coalesced, one entry and then one with a count per minute.
//
// Not counted: logins and logouts (the SSH layer's per-key session rate
// bounds them), and records of what has already happened — a viewing
// that ended (RecordViewing writes it with mutateHappened), an export
// that was written or failed — which must be ledgered whatever the rate.
// A view's authorization is counted: the console can ask for one view
// after another in one session, so the session rate does not bound it.
var exemptFromChangeRate = map[Action]bool{
	ActionLogin: true, ActionLogout: true, ActionRequestExport: true,
}

// Per key at most changeBurst at once, then one per changeEvery: at
// most 86,400 / 2 = 43,200 changes a day for a key that never stops.
const (
	changeBurst = 60
	changeEvery = 2 * time.Second
)

type changeLimiter struct {
	mu      sync.Mutex
	buckets map[string]*changeBucket
	swept   time.Time
}

type changeBucket struct {
	tokens float64
	last   time.Time
}

// allow takes a token for fp at now.
func (l *changeLimiter) allow(fp string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buckets == nil {
		l.buckets = map[string]*changeBucket{}
	}
	full := func(b *changeBucket) float64 {
		t := b.tokens
		if el := now.Sub(b.last); el > 0 {
			t += float64(el) / float64(changeEvery)
		}
		return min(t, changeBurst)
	}
	if now.Sub(l.swept) > changeEvery*changeBurst { // forget full buckets
		for k, b := range l.buckets {
			if full(b) >= changeBurst {
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	b := l.buckets[fp]
	if b == nil {
		b = &changeBucket{tokens: changeBurst, last: now}
		l.buckets[fp] = b
	}
	b.tokens, b.last = full(b), now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// limitChange reports (and ledgers, coalesced) a change over the key's
// rate; nil if it may go ahead.
func (s *Store) limitChange(actor Actor, action Action, subject string) error {
	if exemptFromChangeRate[action] {
		return nil
	}
	return s.limitAttempt(actor, action, subject)
}

// limitAttempt counts an attempt at action against the key's change rate
// even where what the attempt then does is ledgered whatever the rate (an
// export, which the console can try again and again in one session).
func (s *Store) limitAttempt(actor Actor, action Action, subject string) error {
	if ScopeOf(actor.Role).Bootstrap {
		return nil
	}
	if s.changes.allow(actor.Fingerprint, s.nowUTC()) {
		return nil
	}
	s.refuse(actor, string(action), "change rate", "", subject)
	return ErrLimited
}
