package tui

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"mimamori/core"
)

// tabID names a page of the console.
type tabID int

const (
	tabCameras tabID = iota
	tabRecordings
	tabStorage
	tabRequests
	tabLedger
	tabKeys
	tabUpkeep // custody, inspections, layout plans, maintenance log, warnings
)

func (t tabID) titleKey() string {
	return [...]string{"tab.cameras", "tab.recordings", "tab.storage", "tab.requests", "tab.ledger", "tab.keys", "tab.upkeep"}[t]
}

// tabsFor is the console's role table: a tab a role may not see is never
// built. Core checks every call again.
func tabsFor(r core.Role) []tabID {
	var out []tabID
	for _, t := range []tabID{tabCameras, tabRecordings, tabStorage, tabRequests, tabLedger, tabKeys, tabUpkeep} {
		if !core.Allowed(r, tabReads[t]) {
			continue
		}
		if t == tabCameras && core.ScopeOf(r).CameraState {
			continue // state only: the storage tab shows it
		}
		out = append(out, t)
	}
	return out
}

// tabReads is the read each tab is built on: core's permission table
// decides who sees which tab.
var tabReads = map[tabID]core.Action{
	tabCameras: core.ActionCamerasRead, tabRecordings: core.ActionRecordingsRead, tabStorage: core.ActionHealthRead,
	tabRequests: core.ActionRequestsRead, tabLedger: core.ActionLedgerRead, tabKeys: core.ActionKeysRead,
	tabUpkeep: core.ActionMaintenanceRead,
}

// page is one tab: a model that renders exactly the size it was given.
type page interface {
	help.KeyMap
	Update(msg tea.Msg) tea.Cmd
	View() string
	SetSize(w, h int)
	// Capturing is true while a text input has the keyboard, so global
	// keys (q, L, 1-6) type into it instead.
	Capturing() bool
}

// chrome: header, tab bar, status line and help line.
const chromeLines = 4

// UI is the root router of one session.
type UI struct {
	s      *session
	tabs   []tabID
	pages  []page
	active int
	help   help.Model
	full   bool

	status    string
	statusErr bool

	loads       map[loadKind]*loadState
	stale       map[int]bool // pages that missed data while hidden
	sizeDue     map[int]bool // pages that missed a window change while hidden
	sub         <-chan core.Change
	lastVerify  time.Time
	verifyDirty bool
	ticks       int

	tabBar struct { // the tab bar as last laid out
		key  tabBarKey
		text string
	}

	// quiet (tests only): Init starts no tick and no subscription, so a
	// synchronous driver can run every other Cmd to completion.
	quiet bool
}

// New builds the console for c.Actor's role.
func New(c Common) tea.Model {
	s := newSession(c)
	u := &UI{s: s, loads: map[loadKind]*loadState{}, stale: map[int]bool{}, sizeDue: map[int]bool{}}
	u.tabs = tabsFor(c.Actor.Role)
	for _, t := range u.tabs {
		u.pages = append(u.pages, u.newPage(t))
	}
	u.help = help.New()
	u.help.Styles = s.st.Help
	u.resize()
	for i := range u.pages { // every page starts sized
		u.sizePage(i)
	}
	return u
}

func (u *UI) newPage(t tabID) page {
	switch t {
	case tabCameras:
		return newCamerasPage(u.s)
	case tabRecordings:
		return newRecordingsPage(u.s)
	case tabStorage:
		return newStoragePage(u.s)
	case tabRequests:
		return newRequestsPage(u.s)
	case tabLedger:
		return newLedgerPage(u.s)
	case tabUpkeep:
		return newUpkeepPage(u.s)
	default:
		return newKeysPage(u.s)
	}
}

// Tabs lists the tabs this console was built with (for tests and sshd).
func (u *UI) Tabs() []string {
	out := make([]string, len(u.tabs))
	for i, t := range u.tabs {
		out[i] = strings.TrimPrefix(t.titleKey(), "tab.")
	}
	return out
}

func (u *UI) has(t tabID) bool {
	for _, x := range u.tabs {
		if x == t {
			return true
		}
	}
	return false
}

func (u *UI) activeTab() (tabID, bool) {
	if len(u.tabs) == 0 {
		return 0, false
	}
	return u.tabs[u.active], true
}

func (u *UI) Init() tea.Cmd {
	var cmds []tea.Cmd
	if !u.quiet {
		cmds = append(cmds, subscribe(u.s.c.Ctx, u.s.c.Core), tick())
	}
	if pb, ok := u.s.c.Core.(policyBackend); ok {
		cmds = append(cmds, func() tea.Msg { return policyMsg{p: pb.Policy()} })
	}
	for _, k := range u.neededLoads() {
		cmds = append(cmds, u.want(k))
	}
	return tea.Batch(cmds...)
}

type policyMsg struct{ p core.Policy }

// resize lays out the page on screen now and the others when they come
// on screen: a window change (or a drag of the window, a change a moment)
// redraws one page, not all seven.
func (u *UI) resize() {
	for i := range u.pages {
		u.sizeDue[i] = true
	}
	u.sizePage(u.active)
	u.help.Width = u.s.c.Width
}

// sizePage gives page i the window's size if it missed a change.
func (u *UI) sizePage(i int) {
	if i < 0 || i >= len(u.pages) || !u.sizeDue[i] {
		return
	}
	u.sizeDue[i] = false
	u.pages[i].SetSize(u.s.c.Width, max(u.s.c.Height-chromeLines, 1))
}

func (u *UI) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	var cmds []tea.Cmd
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		u.s.c.Width, u.s.c.Height = msg.Width, msg.Height
		u.resize()
		return u, nil
	case tea.KeyMsg:
		if msg.String() == "ctrl+c" {
			return u, tea.Quit
		}
		if p := u.page(); p != nil && p.Capturing() {
			return u, p.Update(msg)
		}
		km := u.s.keys
		switch {
		case key.Matches(msg, km.Quit):
			return u, tea.Quit
		case key.Matches(msg, km.Lang):
			if u.s.lang == "ja" {
				u.s.setLang("en")
			} else {
				u.s.setLang("ja")
			}
			u.resize()
			return u, nil
		case key.Matches(msg, km.Help):
			u.full = !u.full
			return u, nil
		case key.Matches(msg, km.NextTab):
			return u, u.switchTo(u.active + 1)
		case key.Matches(msg, km.PrevTab):
			return u, u.switchTo(u.active - 1 + len(u.tabs))
		case key.Matches(msg, km.GotoTab):
			n := int(msg.String()[0] - '1')
			if n < len(u.tabs) {
				return u, u.switchTo(n)
			}
			return u, nil
		}
		if p := u.page(); p != nil {
			return u, p.Update(msg)
		}
		return u, nil

	case subscribedMsg:
		u.sub = msg.ch
		return u, waitForChange(u.s.c.Ctx, u.sub)
	case changesMsg:
		cmds = append(cmds, u.onChanges(msg))
		if u.sub != nil {
			cmds = append(cmds, waitForChange(u.s.c.Ctx, u.sub))
		}
		return u, tea.Batch(cmds...)
	case subClosedMsg:
		u.sub = nil
		return u, nil
	case tickMsg:
		return u, u.onTick()
	case wantLoadMsg:
		return u, u.want(loadKind(msg))

	case policyMsg:
		u.s.data.policy, u.s.data.hasPolicy = msg.p, true
		cmds = append(cmds, u.want(loadCoverage))
	case camerasMsg:
		d := &u.s.data
		d.camsErr = msg.err
		if msg.err == nil {
			d.cams, d.camsLoaded = msg.cams, true
			d.warnings, d.sched = msg.warnings, msg.sched
		}
		cmds = append(cmds, u.done(loadCameras), u.want(loadCoverage))
	case healthMsg:
		d := &u.s.data
		d.statsErr = msg.err
		if msg.err == nil {
			d.stats, d.statsLoaded = msg.stats, true
		}
		cmds = append(cmds, u.done(loadHealth))
	case holdsMsg:
		u.s.data.holdsErr = msg.err
		if msg.err == nil {
			u.s.data.holds = msg.holds
		}
		cmds = append(cmds, u.done(loadHolds))
	case requestsMsg:
		d := &u.s.data
		d.reqsErr = msg.err
		if msg.err == nil {
			d.reqs, d.reqsLoaded = msg.reqs, true
		}
		cmds = append(cmds, u.done(loadRequests))
	case ledgerMsg:
		cmds = append(cmds, u.onLedger(msg))
	case verifyMsg:
		d := &u.s.data
		d.verifyErr = msg.err
		if msg.err == nil {
			d.verify, d.verifyLoaded = msg.report, true
		}
		if msg.checkpoint != nil {
			d.checkpoint = msg.checkpoint
		}
		u.lastVerify = u.s.now()
		cmds = append(cmds, u.done(loadVerify))
	case keysMsg:
		d := &u.s.data
		d.keysErr = msg.err
		if msg.err == nil {
			d.keys, d.refused, d.keysLoaded = msg.keys, msg.refused, true
		}
		cmds = append(cmds, u.done(loadKeys))
	case coverageMsg:
		d := &u.s.data
		if msg.spans != nil {
			d.coverErr = msg.err
			if d.cover == nil {
				d.cover = map[string][]core.Span{}
			}
			for id, sp := range msg.spans { // the rows loaded before stay until shown again
				d.cover[id] = sp
			}
			d.coverFrom, d.coverTo = msg.from, msg.to
			d.coverLoaded, d.coverLoadedAt = true, u.s.now()
		}
		cmds = append(cmds, u.done(loadCoverage))
	case upkeepMsg:
		d := &u.s.data
		d.upkeepErr = msg.err
		if msg.err == nil {
			d.custody, d.plans, d.maint, d.upkeepLoaded = msg.custody, msg.plans, msg.maint, true
		}
		cmds = append(cmds, u.done(loadUpkeep))
	case regActionMsg:
		if msg.err != nil {
			u.s.c.Logger.Info("console: action failed", "user", u.s.c.Actor.Name, "what", msg.what, "id", msg.name, "err", msg.err)
			u.setStatus(u.s.T("err.action")+": "+u.s.errText(msg.err), true)
		} else {
			u.setStatus(fmt.Sprintf(u.s.T(msg.what), msg.name), false)
		}
		// What a register record changes: the warnings (with the
		// cameras), the upkeep tab and the people.
		cmds = append(cmds, u.want(loadCameras), u.want(loadUpkeep), u.want(loadKeys))
	case keyActionMsg:
		if msg.err != nil {
			u.setStatus(u.s.T("err.action")+": "+u.s.errText(msg.err), true)
		} else {
			u.setStatus(fmt.Sprintf(u.s.T(msg.what), msg.name), false)
		}
		cmds = append(cmds, u.want(loadKeys))
	case statusMsg:
		u.setStatus(msg.text, msg.err)
		return u, nil
	case reqActionMsg:
		u.actionStatus(msg.what, msg.id, msg.err)
		cmds = append(cmds, u.want(loadRequests), u.want(loadHolds))
	case exportDoneMsg:
		u.actionStatus(msg.res.what, msg.res.id, msg.res.err)
		cmds = append(cmds, u.want(loadRequests))
	case holdActionMsg:
		u.actionStatus(msg.what, msg.id, msg.err)
		cmds = append(cmds, u.want(loadHolds))
	case mintMsg:
		if msg.err != nil {
			u.actionStatus("", "", msg.err)
		}
	}
	if err := msgErr(msg); err != nil {
		u.s.c.Logger.Warn("console: read failed", "user", u.s.c.Actor.Name, "msg", fmt.Sprintf("%T", msg), "err", err)
		u.setStatus(u.s.T("err.load")+": "+u.s.errText(err), true)
	}
	// Data goes to the page on screen; the others rebuild when shown.
	if isData(msg) {
		for i := range u.pages {
			if i != u.active {
				u.stale[i] = true
			}
		}
		if p := u.page(); p != nil {
			cmds = append(cmds, p.Update(msg))
		}
		return u, tea.Batch(cmds...)
	}
	for _, p := range u.pages {
		cmds = append(cmds, p.Update(msg))
	}
	return u, tea.Batch(cmds...)
}

// refreshMsg asks a page to rebuild from the session's data.
type refreshMsg struct{}

func isData(msg tea.Msg) bool {
	switch msg.(type) {
	case policyMsg, camerasMsg, healthMsg, holdsMsg, requestsMsg, ledgerMsg, verifyMsg, keysMsg, coverageMsg, upkeepMsg:
		return true
	}
	return false
}

// statusMsg lets a page put a line in the status bar.
type statusMsg struct {
	text string
	err  bool
}

func (u *UI) setStatus(s string, isErr bool) { u.status, u.statusErr = s, isErr }

// actionStatus reports a write: the done message, or the error.
func (u *UI) actionStatus(what, id string, err error) {
	if err != nil {
		u.s.c.Logger.Info("console: action failed", "user", u.s.c.Actor.Name, "what", what, "id", id, "err", err)
		u.setStatus(u.s.T("err.action")+": "+u.s.errText(err), true)
		return
	}
	u.setStatus(fmt.Sprintf(u.s.T(what), id), false)
}

// msgErr pulls a load error out of a data message (forbidden is not
// shown as an error: the page says what the role may not see).
func msgErr(msg tea.Msg) error {
	var err error
	switch m := msg.(type) {
	case camerasMsg:
		err = m.err
	case healthMsg:
		err = m.err
	case holdsMsg:
		err = m.err
	case requestsMsg:
		err = m.err
	case requestMsg:
		err = m.err
	case ledgerMsg:
		err = m.err
	case verifyMsg:
		err = m.err
	case keysMsg:
		err = m.err
	case coverageMsg:
		err = m.err
	case upkeepMsg:
		err = m.err
	}
	if err == nil || errors.Is(err, core.ErrForbidden) || errors.Is(err, core.ErrUnavailable) {
		return nil
	}
	return err
}

func (u *UI) page() page {
	if len(u.pages) == 0 {
		return nil
	}
	return u.pages[u.active]
}

func (u *UI) switchTo(i int) tea.Cmd {
	if len(u.tabs) == 0 {
		return nil
	}
	u.active = i % len(u.tabs)
	u.full = false
	u.status = "" // a message belongs to the tab it came from
	u.sizePage(u.active)
	var refresh tea.Cmd
	if u.stale[u.active] {
		u.stale[u.active] = false
		refresh = u.pages[u.active].Update(refreshMsg{})
	}
	return tea.Batch(refresh, u.switchLoads())
}

// switchLoads starts what a tab needs fresh when it comes on screen.
func (u *UI) switchLoads() tea.Cmd {
	if t, _ := u.activeTab(); t == tabRecordings && u.coverageStale() {
		return u.want(loadCoverage)
	}
	if t, _ := u.activeTab(); t == tabKeys {
		return u.want(loadKeys) // refused attempts are not pushed as changes
	}
	return nil
}

func (u *UI) onLedger(msg ledgerMsg) tea.Cmd {
	d := &u.s.data
	if msg.view != d.ledgerView {
		return u.done(loadLedger) // read for a view since left; the new one is on its way
	}
	d.ledgerErr = msg.err
	if msg.err == nil {
		d.ledger, d.ledgerLoaded = msg.page, true
	}
	return u.done(loadLedger)
}

// onChanges decides what to re-read after committed changes.
func (u *UI) onChanges(cs changesMsg) tea.Cmd {
	var cmds []tea.Cmd
	seen := map[loadKind]bool{}
	add := func(k loadKind) {
		if !seen[k] {
			seen[k] = true
			cmds = append(cmds, u.want(k))
		}
	}
	for _, c := range cs {
		a := string(c.Action)
		switch {
		case strings.HasPrefix(a, "camera."):
			add(loadCameras)
		case strings.HasPrefix(a, "hold."):
			add(loadHolds)
		case strings.HasPrefix(a, "request."):
			add(loadRequests)
			add(loadHolds) // registering places a provisional hold
		case strings.HasPrefix(a, "key."):
			add(loadKeys)
			add(loadCameras) // warnings name people without title or pledge
		case strings.HasPrefix(a, "maintenance."), strings.HasPrefix(a, "custody."), strings.HasPrefix(a, "layout."),
			strings.HasPrefix(a, "disposal."):
			add(loadCameras) // signs, inspections and custody feed the warnings
			add(loadUpkeep)
		case a == string(core.ActionErasure) || a == string(core.ActionRecordingEvent):
			u.s.data.coverLoadedAt = time.Time{} // stale: reloaded when seen
		}
		if u.s.data.ledgerView.before == 0 {
			add(loadLedger) // the newest page is on screen: it changed
		}
		u.verifyDirty = true
	}
	for _, p := range u.pages {
		cmds = append(cmds, p.Update(cs))
	}
	return tea.Batch(cmds...)
}

const (
	verifyEvery   = 10 * time.Second
	coverageEvery = 30 * time.Second
)

func (u *UI) coverageStale() bool {
	at := u.s.data.coverLoadedAt
	// A row scrolled into view loads at once; after a failed load, not
	// before the 30 s are up (the failure is on screen meanwhile).
	d := &u.s.data
	return at.IsZero() || u.s.now().Sub(at) >= coverageEvery || (d.coverErr == nil && d.coverMissing())
}

// onTick refreshes health every second and the slower things when due.
func (u *UI) onTick() tea.Cmd {
	u.ticks++
	cmds := []tea.Cmd{u.want(loadHealth)}
	if !u.quiet {
		cmds = append(cmds, tick())
	}
	if u.verifyDirty && u.s.now().Sub(u.lastVerify) >= verifyEvery {
		u.verifyDirty = false
		cmds = append(cmds, u.want(loadVerify))
	}
	if t, ok := u.activeTab(); ok {
		switch {
		case t == tabRecordings && u.coverageStale():
			cmds = append(cmds, u.want(loadCoverage))
		case t == tabKeys && u.ticks%5 == 0:
			cmds = append(cmds, u.want(loadKeys))
		}
	}
	if u.ticks%300 == 0 { // an inspection falls due with time, not with a change
		cmds = append(cmds, u.want(loadCameras))
	}
	return tea.Batch(cmds...)
}
