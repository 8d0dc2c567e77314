package sshd

import (
	"errors"
	"time"

	"mimamori/core"
)

// keyActions are the ledger actions after which open sessions' keys are
// checked again.
var keyActions = map[core.Action]bool{
	core.ActionKeyRevoke:     true,
	core.ActionKeyRoleChange: true,
	core.ActionKeyEnroll:     true, // re-enrolment may change name or role
	core.ActionViewerRevoke:  true,
}

// watchKeys ends the sessions of keys that were revoked or changed role.
// Change notifications trigger a check at once; the ticker is the safety
// net for notifications the hub dropped or for grants that simply expired.
func (s *Server) watchKeys() {
	defer s.wg.Done()
	sub := s.o.Core.Subscribe(s.ctx)
	tick := time.NewTicker(s.o.RecheckInterval)
	defer tick.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case ch, ok := <-sub:
			if !ok {
				sub = nil // store closed; keep the ticker
				continue
			}
			if keyActions[ch.Action] {
				s.recheckKeys()
			}
		case <-tick.C:
			s.recheckKeys()
		}
	}
}

// recheckKeys looks every open session's key up again and closes the
// sessions whose key is gone or whose role is no longer the one they were
// opened with (the new role takes effect at the next login).
func (s *Server) recheckKeys() {
	for fp, role := range s.reg.fingerprints() {
		k, err := s.o.Core.LookupKey(fp)
		reason := ""
		switch {
		case errors.Is(err, core.ErrNotFound):
			reason = "key revoked"
		case err != nil:
			s.log.Error("recheck: key lookup failed", "fingerprint", fp, "err", err)
			continue
		case k.Role != role:
			reason = "role changed"
		default:
			continue
		}
		for _, l := range s.reg.sessions(fp) {
			s.log.Warn("closing session", "reason", reason, "fingerprint", fp, "actor", l.actor.Name, "session", l.id)
			l.kill(reason)
		}
	}
}
