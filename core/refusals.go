package core

import (
	"strconv"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Refusals are coalesced so that no client can flood the ledger by being
// refused: the first refusal of one kind (actor, what was tried, why) is
// written at once as a "denied" entry; more of the same within
// refusalWindow are only counted, and one entry with the count is written
// when the window has passed (the flusher looks every refusalFlush, and
// Close writes what is pending). So a flood costs at most one entry at
// its start and one per refusalWindow while it lasts, per kind.
//
// Per day at most 2 × 1440 entries per kind under a sustained flood; a
// kind is bounded by the enrolled keys × actions (refusalKinds caps the
// memory; beyond it, a new kind is written at once without coalescing
// only if it has not been seen, else counted under the overflow kind).
const (
	refusalWindow = time.Minute
	refusalFlush  = 10 * time.Second
	refusalKinds  = 4096
)

type refusalKind struct {
	fp, tried, reason string
}

type refusalCount struct {
	actor       Actor
	subjectKey  string // detail key of subject: "subject", or "dest" for forwards
	subject     string
	lastWritten time.Time
	first, last time.Time // of the pending ones
	pending     int
}

type refusalLog struct {
	mu    sync.Mutex
	kinds map[refusalKind]*refusalCount
}

// note counts one refusal; write is true when it must be written now.
func (l *refusalLog) note(k refusalKind, actor Actor, subjectKey, subject string, now time.Time) (write bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.kinds == nil {
		l.kinds = map[refusalKind]*refusalCount{}
	}
	c := l.kinds[k]
	if c == nil {
		if len(l.kinds) >= refusalKinds {
			k = refusalKind{fp: "*", tried: "*", reason: "many kinds"}
			if c = l.kinds[k]; c == nil {
				c = &refusalCount{actor: SystemActor("sshd")}
				l.kinds[k] = c
			}
		} else {
			l.kinds[k] = &refusalCount{actor: actor, subjectKey: subjectKey, subject: subject, lastWritten: now}
			return true
		}
	}
	if c.pending == 0 && now.Sub(c.lastWritten) >= refusalWindow {
		c.lastWritten = now
		c.actor, c.subjectKey, c.subject = actor, subjectKey, subject
		return true
	}
	if c.pending == 0 {
		c.first = now
	}
	c.pending++
	c.last = now
	c.subjectKey, c.subject = subjectKey, subject // the latest one
	return false
}

type refusalSummary struct {
	kind  refusalKind
	count refusalCount
}

// due takes the counts whose window has passed (all of them if all).
func (l *refusalLog) due(now time.Time, all bool) []refusalSummary {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []refusalSummary
	for k, c := range l.kinds {
		// A wall clock stepped back ends the window too (written "after"
		// now): else the counts would wait as long as the step.
		passed := now.Sub(c.lastWritten) >= refusalWindow || now.Before(c.lastWritten)
		switch {
		case c.pending > 0 && (all || passed):
			out = append(out, refusalSummary{k, *c})
			c.pending = 0
			c.lastWritten = now
		case c.pending == 0 && passed:
			delete(l.kinds, k) // quiet: forget it
		}
	}
	return out
}

// writeRefusal writes one denied entry; sum is set for a summary.
func (s *Store) writeRefusal(actor Actor, tried, reason, subjectKey, subject string, sum *refusalCount) error {
	det := map[string]string{"tried": tried, "role": actor.Role.String()}
	if reason != "" {
		det["reason"] = ledgerSafe(reason, 200)
	}
	if subjectKey == "" {
		subjectKey = "subject"
	}
	if subject != "" {
		det[subjectKey] = ledgerSafe(subject, 200)
	}
	if sum != nil {
		det["count"] = strconv.Itoa(sum.pending)
		det["first"], det["last"] = fmtTime(sum.first), fmtTime(sum.last)
	}
	var e Entry
	err := s.write(func(tx *bolt.Tx) error {
		var err error
		e, err = s.appendEntry(tx, actor, ActionDenied, tried, det)
		return err
	})
	if err != nil {
		s.log.Error("ledger: cannot record a refusal", "actor", actor.Name, "tried", tried, "err", err)
		return err
	}
	s.hub.publish(Change{Seq: e.Seq, Action: e.Action, Subject: e.Subject})
	return nil
}

// RecordRefusal ledgers that actor was refused tried (an action) for
// reason by a layer outside core (the SSH layer's session caps and
// rates). Floods are coalesced as described above. It never fails the
// caller: the refusal stands whether or not it could be written.
func (s *Store) RecordRefusal(actor Actor, tried Action, reason string) {
	s.refuse(actor, string(tried), reason, "", "")
}

func (s *Store) refuse(actor Actor, tried, reason, subjectKey, subject string) {
	k := refusalKind{fp: actor.Fingerprint, tried: tried, reason: reason}
	if s.refusals.note(k, actor, subjectKey, subject, s.nowUTC()) {
		_ = s.writeRefusal(actor, tried, reason, subjectKey, subject, nil)
	}
}

// flushRefusals writes the summaries that are due (all, at Close).
func (s *Store) flushRefusals(all bool) {
	for _, r := range s.refusals.due(s.nowUTC(), all) {
		c := r.count
		_ = s.writeRefusal(c.actor, r.kind.tried, r.kind.reason, c.subjectKey, c.subject, &c)
	}
}

// refusalFlusher runs until the store closes.
func (s *Store) refusalFlusher() {
	defer close(s.flusherDone)
	t := time.NewTicker(refusalFlush)
	defer t.Stop()
	for {
		select {
		case <-s.flushStop:
			return
		case <-t.C:
			s.flushRefusals(false)
		}
	}
}
