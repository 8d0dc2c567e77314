package tui

import (
	tea "github.com/charmbracelet/bubbletea"

	"mimamori/core"
)

// loadKind is one kind of read from core.
type loadKind int

const (
	loadCameras loadKind = iota
	loadHealth
	loadHolds
	loadRequests
	loadLedger
	loadVerify
	loadKeys
	loadCoverage
	loadUpkeep
	loadKinds // the number of kinds
)

// loadState coalesces reads: at most one of a kind in flight; a request
// arriving meanwhile marks it dirty and it runs once more afterwards.
type loadState struct {
	inflight bool
	dirty    bool
}

// action is the permission a load needs. The console never asks core for
// what the role may not read: core would refuse and ledger the attempt.
func (k loadKind) action() core.Action {
	return [...]core.Action{
		loadCameras:  core.ActionCamerasRead,
		loadHealth:   core.ActionHealthRead,
		loadHolds:    core.ActionHoldsRead,
		loadRequests: core.ActionRequestsRead,
		loadLedger:   core.ActionLedgerRead,
		loadVerify:   core.ActionLedgerVerify,
		loadKeys:     core.ActionKeysRead,
		loadCoverage: core.ActionRecordingsRead,
		loadUpkeep:   core.ActionMaintenanceRead,
	}[k]
}

// needs says which tabs use a load (the header uses verify too).
func (u *UI) needs(k loadKind) bool {
	switch k {
	case loadCameras:
		return u.has(tabCameras) || u.has(tabRecordings) || u.has(tabStorage) || u.has(tabUpkeep)
	case loadUpkeep:
		return u.has(tabUpkeep)
	case loadHealth:
		return u.has(tabCameras) || u.has(tabRecordings) || u.has(tabStorage)
	case loadHolds, loadCoverage:
		return u.has(tabRecordings)
	case loadRequests:
		return u.has(tabRequests)
	case loadLedger:
		return u.has(tabLedger)
	case loadVerify:
		return u.has(tabLedger) || len(u.tabs) > 0
	case loadKeys:
		return u.has(tabKeys)
	}
	return false
}

func (u *UI) neededLoads() []loadKind {
	var out []loadKind
	for k := loadCameras; k < loadKinds; k++ {
		if k == loadCoverage {
			continue // needs the camera list first
		}
		if u.needs(k) && u.s.allowed(k.action()) {
			out = append(out, k)
		}
	}
	return out
}

// want starts a load unless one is in flight (then it is re-run after).
func (u *UI) want(k loadKind) tea.Cmd {
	if !u.needs(k) || !u.s.allowed(k.action()) {
		return nil
	}
	if k == loadKeys && !u.s.allowed(core.ActionRefusedKeyRead) {
		return nil
	}
	st := u.loads[k]
	if st == nil {
		st = &loadState{}
		u.loads[k] = st
	}
	if st.inflight {
		st.dirty = true
		return nil
	}
	cmd := u.start(k)
	if cmd == nil {
		return nil
	}
	st.inflight = true
	return cmd
}

// done marks a load finished and re-runs it if it was wanted meanwhile.
func (u *UI) done(k loadKind) tea.Cmd {
	st := u.loads[k]
	if st == nil {
		return nil
	}
	st.inflight = false
	if st.dirty {
		st.dirty = false
		return u.want(k)
	}
	return nil
}

func (u *UI) start(k loadKind) tea.Cmd {
	s := u.s
	switch k {
	case loadCameras:
		return s.loadCameras()
	case loadHealth:
		return s.loadHealth()
	case loadHolds:
		return s.loadHolds()
	case loadRequests:
		return s.loadRequests()
	case loadLedger:
		return s.loadLedger()
	case loadVerify:
		return s.verifyLedger()
	case loadKeys:
		return s.loadKeys()
	case loadUpkeep:
		return s.loadUpkeep()
	case loadCoverage:
		if !s.data.camsLoaded {
			return nil
		}
		to := s.now()
		return s.loadCoverage(s.data.coverIDs(), to.Add(-s.data.retention()), to)
	}
	return nil
}
