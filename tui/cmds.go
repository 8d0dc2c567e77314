package tui

import (
	"context"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"mimamori/core"
)

func (s *session) loadCameras() tea.Cmd {
	b, a := s.c.Core, s.c.Actor
	return func() tea.Msg {
		cams, err := b.Cameras(a)
		m := camerasMsg{cams: cams, err: err}
		// The register's warnings and the inspection schedule change with
		// the register, keys and maintenance records: read with it.
		if cb, ok := b.(complianceBackend); ok && err == nil {
			if core.Allowed(a.Role, core.ActionHealthRead) {
				m.warnings, _ = cb.ComplianceWarnings(a)
			}
			if core.Allowed(a.Role, core.ActionMaintenanceRead) {
				m.sched, _ = cb.InspectionSchedule(a)
			}
		}
		return m
	}
}

func (s *session) loadHealth() tea.Cmd {
	b, a := s.c.Core, s.c.Actor
	return func() tea.Msg {
		st, err := b.Health(a)
		return healthMsg{stats: st, err: err}
	}
}

func (s *session) loadHolds() tea.Cmd {
	b, a := s.c.Core, s.c.Actor
	return func() tea.Msg {
		h, err := b.Holds(a)
		return holdsMsg{holds: h, err: err}
	}
}

func (s *session) loadRequests() tea.Cmd {
	b, a := s.c.Core, s.c.Actor
	return func() tea.Msg {
		r, err := b.Requests(a)
		return requestsMsg{reqs: r, err: err}
	}
}

func (s *session) loadRequest(id string) tea.Cmd {
	b, a := s.c.Core, s.c.Actor
	return func() tea.Msg {
		r, err := b.Request(a, id)
		return requestMsg{req: r, err: err}
	}
}

// loadLedger reads the page the ledger tab shows.
func (s *session) loadLedger() tea.Cmd {
	b, a, v := s.c.Core, s.c.Actor, s.data.ledgerView
	q := core.LedgerQuery{Before: v.before, Limit: ledgerPageRows, Show: v.show}
	if v.filter != "" {
		f := parseLedgerFilter(v.filter, s.c.Location, s.lang)
		q.Match = f.match
	}
	return func() tea.Msg {
		p, err := b.LedgerPage(a, q)
		return ledgerMsg{page: p, view: v, err: err}
	}
}

// verifyLedger is the standing check, with the current checkpoint.
func (s *session) verifyLedger() tea.Cmd {
	b, a := s.c.Core, s.c.Actor
	return func() tea.Msg {
		r, err := b.ChainStatus(a)
		m := verifyMsg{report: r, err: err}
		if lb, ok := b.(ledgerBackend); ok && core.Allowed(a.Role, core.ActionLedgerCheckpoint) {
			if cp, err := lb.Checkpoint(a); err == nil {
				m.checkpoint = &cp
			}
		}
		return m
	}
}

// loadUpkeep reads the upkeep tab's records in one Cmd.
func (s *session) loadUpkeep() tea.Cmd {
	b, a := s.c.Core, s.c.Actor
	return func() tea.Msg {
		var m upkeepMsg
		if m.custody, m.err = b.Custody(a); m.err != nil {
			return m
		}
		if m.plans, m.err = b.LayoutPlans(a); m.err != nil {
			return m
		}
		m.maint, m.err = b.MaintenanceRecords(a)
		return m
	}
}

func (s *session) loadKeys() tea.Cmd {
	b, a := s.c.Core, s.c.Actor
	return func() tea.Msg {
		k, err := b.Keys(a)
		if err != nil {
			return keysMsg{err: err}
		}
		r, err := b.RefusedKeys(a)
		return keysMsg{keys: k, refused: r, err: err}
	}
}

// loadCoverage asks for every camera's spans over [from, to).
func (s *session) loadCoverage(cams []string, from, to time.Time) tea.Cmd {
	b, a, ctx := s.c.Core, s.c.Actor, s.c.Ctx
	return func() tea.Msg {
		out := make(map[string][]core.Span, len(cams))
		for _, c := range cams {
			if ctx.Err() != nil {
				return nil
			}
			sp, err := b.Coverage(a, c, from, to)
			if err != nil {
				return coverageMsg{from: from, to: to, spans: out, err: err}
			}
			out[c] = sp
		}
		return coverageMsg{from: from, to: to, spans: out}
	}
}

// enrollPerson enrols a key with the person's 職名, 所属 and pledge.
func (s *session) enrollPerson(in core.Enrolment) tea.Cmd {
	b, a := s.c.Core, s.c.Actor
	return func() tea.Msg {
		k, err := b.EnrollPerson(a, in)
		return keyActionMsg{what: "keys.done.enrolled", name: k.Name, err: err}
	}
}

// regWrite runs one register record in a Cmd; the outcome goes to the
// status line and back to the page that asked (origin).
func (s *session) regWrite(origin, what, name string, call func(b Backend, a core.Actor) error) tea.Cmd {
	b, a := s.c.Core, s.c.Actor
	return func() tea.Msg {
		return regActionMsg{origin: origin, what: what, name: name, err: call(b, a)}
	}
}

// removeCamera is the manager's removal of a camera: recording stops,
// the register keeps it marked removed (001 §8-2).
func (s *session) removeCamera(id, reason string) tea.Cmd {
	b, a := s.c.Core, s.c.Actor
	return func() tea.Msg {
		return keyActionMsg{what: "cam.done.removed", name: id, err: b.RemoveCamera(a, id, reason)}
	}
}

func (s *session) revokeKey(fp, name, reason string) tea.Cmd {
	b, a := s.c.Core, s.c.Actor
	return func() tea.Msg {
		return keyActionMsg{what: "keys.done.revoked", name: name, err: b.RevokeKey(a, fp, reason)}
	}
}

func (s *session) changeKeyRole(fp, name string, role core.Role) tea.Cmd {
	b, a := s.c.Core, s.c.Actor
	return func() tea.Msg {
		return keyActionMsg{what: "keys.done.role", name: name, err: b.ChangeKeyRole(a, fp, role)}
	}
}

func subscribe(ctx context.Context, b Backend) tea.Cmd {
	return func() tea.Msg { return subscribedMsg{ch: b.Subscribe(ctx)} }
}

// waitForChange is re-armed after every message. It gives up when the
// session's context ends, so it never outlives the session.
func waitForChange(ctx context.Context, ch <-chan core.Change) tea.Cmd {
	return func() tea.Msg {
		var first core.Change
		select {
		case <-ctx.Done():
			return nil
		case c, ok := <-ch:
			if !ok {
				return subClosedMsg{}
			}
			first = c
		}
		// Coalesce a burst into one message: one reload per burst.
		out := changesMsg{first}
		for len(out) < 256 {
			select {
			case c, ok := <-ch:
				if !ok {
					return out
				}
				out = append(out, c)
			default:
				return out
			}
		}
		return out
	}
}

func tick() tea.Cmd {
	return tea.Tick(time.Second, func(t time.Time) tea.Msg { return tickMsg(t) })
}
