package tui

import (
	"time"

	"mimamori/core"
)

// Typed messages: every core call returns one of these from a tea.Cmd.

type camerasMsg struct {
	cams     []core.Camera
	err      error
	warnings []core.Warning       // nil when the backend offers none
	sched    []core.InspectionDue // nil when the role may not read it
}

type healthMsg struct {
	stats core.RecorderStats
	err   error
}

type holdsMsg struct {
	holds []core.Hold
	err   error
}

type requestsMsg struct {
	reqs []core.Request
	err  error
}

type requestMsg struct {
	req core.Request
	err error
}

// ledgerMsg carries one page of the ledger, for the view it was read for.
type ledgerMsg struct {
	page core.LedgerPage
	view ledgerView
	err  error
}

type verifyMsg struct {
	report     core.VerifyReport
	err        error
	checkpoint *core.Checkpoint // nil unless the role may have one
}

type keysMsg struct {
	keys    []core.Key
	refused []core.RefusedKey
	err     error
}

type coverageMsg struct {
	from, to time.Time
	spans    map[string][]core.Span
	err      error
}

// regActionMsg is the outcome of a register record: 職名/所属, a pledge,
// the manager's handover, a sign, a police consultation, custody, an
// inspection. origin is the page whose form sent it.
type regActionMsg struct {
	origin string
	what   string // i18n key of the done message ("%s": name)
	name   string
	err    error
}

// upkeepMsg carries the upkeep tab's records.
type upkeepMsg struct {
	custody []core.CustodyRecord
	plans   []core.LayoutPlan
	maint   []core.MaintenanceRecord
	err     error
}

// keyActionMsg is the outcome of enrol / revoke / role change.
type keyActionMsg struct {
	what string // i18n key of the done message
	name string
	err  error
}

// subscribedMsg hands the change channel to Update, which arms the pump.
type subscribedMsg struct{ ch <-chan core.Change }

// changesMsg is one or more committed changes, coalesced.
type changesMsg []core.Change

// subClosedMsg: the store closed the subscription (shutdown).
type subClosedMsg struct{}

// tickMsg drives the 1 s health refresh and the header clock.
type tickMsg time.Time

// wantLoadMsg asks the UI to (re)start a load, e.g. when a page changes
// what it shows.
type wantLoadMsg loadKind
