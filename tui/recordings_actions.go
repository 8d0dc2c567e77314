package tui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"mimamori/core"
)

// Holds (001 §5-3) and viewing on the Recordings tab: h adds an
// extension hold, R releases one, H lists every hold, v plays a camera.

func holdSpecs() []colSpec {
	return []colSpec{
		{title: "col.id", min: 11, prio: 10},
		{title: "col.camera", min: 6, prio: 9},
		{title: "col.kind", min: 11, prio: 3},
		{title: "col.from", min: 11, prio: 7},
		{title: "col.to", min: 11, prio: 6},
		{title: "col.until", min: 11, prio: 8},
		{title: "col.state", min: 6, prio: 4},
		{title: "col.reason", min: 10, flex: 1, prio: 9},
	}
}

func (p *recordingsPage) rebuildHolds() {
	s, now := p.s, p.s.now()
	rows := make([][]string, 0, len(s.data.holds))
	for _, h := range s.data.holds {
		state := s.T("key.active")
		switch {
		case !h.ReleasedAt.IsZero():
			state = s.T("hold.released")
		case !h.ActiveAt(now):
			state = s.T("key.expired")
		}
		reason := core.HoldReason(h, s.lang)
		if h.ReleaseReason != "" {
			reason += " / " + h.ReleaseReason
		}
		rows = append(rows, []string{h.ID, h.Camera, s.T("hold.kind." + h.Kind), s.fmtShort(h.From), s.fmtShort(h.To),
			s.fmtShort(h.Until), state, reason})
	}
	p.holds.SetRows(rows)
}

func (p *recordingsPage) holdsView() string {
	s, st := p.s, p.s.st
	title := st.Title.Render(fmt.Sprintf("%s (%d)", s.T("hold.list"), len(s.data.holds)))
	if len(s.data.holds) == 0 {
		return block(title+"\n\n  "+s.T("hold.none"), p.w, p.h)
	}
	return block(title+"\n"+p.holds.View(), p.w, p.h)
}

// actions are what this role may do here.
func (p *recordingsPage) actions() []key.Binding {
	s, k := p.s, p.s.keys
	var out []key.Binding
	if !p.list && s.canView() {
		out = append(out, k.View)
	}
	if s.allowed(core.ActionHoldAdd) {
		out = append(out, k.HoldAdd)
	}
	if s.allowed(core.ActionHoldRelease) {
		out = append(out, k.HoldRelease)
	}
	if s.allowed(core.ActionHoldsRead) {
		out = append(out, k.HoldList)
	}
	return out
}

func (p *recordingsPage) allowedKey(msg tea.KeyMsg, b key.Binding) bool {
	if !key.Matches(msg, b) {
		return false
	}
	for _, a := range p.actions() {
		if key.Matches(msg, a) {
			return true
		}
	}
	return false
}

func (p *recordingsPage) key(msg tea.KeyMsg) tea.Cmd {
	s, k := p.s, p.s.keys
	switch {
	case p.links != nil:
		if msg.Type == tea.KeyEsc {
			p.links = nil
		}
		return nil
	case p.act != nil:
		res, cmd := p.act.Update(msg)
		switch res {
		case formCancel:
			p.act = nil
			return statusCmd(s.T("keys.cancelled"), false)
		case formSubmit:
			return p.submit()
		}
		return cmd
	case p.allowedKey(msg, k.HoldList):
		p.list = !p.list
		return nil
	case p.allowedKey(msg, k.HoldAdd):
		return p.open("add", p.holdForm())
	case p.allowedKey(msg, k.HoldRelease):
		f := p.releaseForm()
		if f == nil {
			return statusCmd(s.T("hold.noactive"), true)
		}
		return p.open("release", f)
	case p.allowedKey(msg, k.View):
		if c, ok := p.camera(); ok {
			return p.open("view", p.viewForm(c))
		}
		return nil
	}
	if p.list {
		if key.Matches(msg, k.Back) {
			p.list = false
			return nil
		}
		return p.holds.Update(msg)
	}
	if p.sc.key(msg, k) {
		return p.noteShown()
	}
	return nil
}

func (p *recordingsPage) open(step string, f *form) tea.Cmd {
	p.step, p.act = step, f
	return tea.Batch(f.focusField(0), f.check())
}

func (p *recordingsPage) camera() (core.Camera, bool) {
	if p.sc.cursor < len(p.rows) {
		return p.rows[p.sc.cursor].cam, true
	}
	return core.Camera{}, false
}

// holdForm: camera, range, until and the reason the manager records.
func (p *recordingsPage) holdForm() *form {
	s := p.s
	now := s.local(s.now())
	cam := ""
	if c, ok := p.camera(); ok && !p.list {
		cam = c.ID
	}
	f := newForm(s, s.T("hold.f.add"),
		choiceField("camera", "hold.camera", s.cameraOpts(), cam),
		s.textField("from", "hold.from", now.Add(-24*time.Hour).Format("2006-01-02 15:04"), "YYYY-MM-DD hh:mm"),
		s.textField("to", "hold.to", now.Format("2006-01-02 15:04"), "YYYY-MM-DD hh:mm"),
		s.textField("until", "hold.until", now.AddDate(0, 0, 30).Format("2006-01-02"), "YYYY-MM-DD"),
		s.textField("reason", "hold.reason", "", ""),
	)
	f.validate = func(f *form) tea.Cmd {
		from, okF := f.timeOf("from")
		to, okT := f.timeOf("to")
		if okF && okT && !from.Before(to) {
			f.field("to").err = s.T("form.order")
		}
		if u, ok := f.timeOf("until"); ok && !u.After(s.now()) {
			f.field("until").err = s.T("hold.until.past")
		}
		f.required("from", "to", "until", "reason")
		return nil
	}
	return f
}

// releaseForm picks one of the active holds (the selected one in the
// list; the camera's otherwise) and asks why.
// reqHoldsPrefix marks the release choice "every hold of request ID".
const reqHoldsPrefix = "request:"

func (p *recordingsPage) releaseForm() *form {
	s, now := p.s, p.s.now()
	var opts []option
	sel := ""
	if p.list {
		if i := p.holds.Cursor(); i >= 0 && i < len(s.data.holds) && s.data.holds[i].ActiveAt(now) {
			sel = s.data.holds[i].ID
		}
	}
	cam, _ := p.camera()
	for _, h := range s.data.holds {
		if !h.ActiveAt(now) || (!p.list && h.Camera != cam.ID) {
			continue
		}
		opts = append(opts, option{value: h.ID, label: h.ID + " " + h.Camera + " " + oneLine(core.HoldReason(h, s.lang))})
	}
	if len(opts) == 0 {
		return nil
	}
	// Every hold of a request in one act (the manager's "release all").
	seen := map[string]bool{}
	for _, h := range s.data.holds {
		if h.RequestID != "" && h.ActiveAt(now) && !seen[h.RequestID] {
			seen[h.RequestID] = true
			opts = append(opts, option{value: reqHoldsPrefix + h.RequestID, label: fmt.Sprintf(s.T("hold.allof"), h.RequestID)})
		}
	}
	f := newForm(s, s.T("hold.f.release"),
		choiceField("which", "hold.which", opts, sel),
		s.textField("reason", "hold.reason", "", ""))
	f.validate = func(f *form) tea.Cmd { f.required("reason"); return nil }
	return f
}

// viewForm: a recorded range (the last hour by default) or live, where
// the policy allows live view.
func (p *recordingsPage) viewForm(c core.Camera) *form {
	s := p.s
	now := s.local(s.now())
	modes := []option{{value: "range", label: s.T("view.recorded")}}
	if d := &s.data; d.hasPolicy && d.policy.LiveViewAllowed {
		modes = append(modes, option{value: "live", label: s.T("view.live")})
	}
	// The purpose: a request that names this camera (where operators
	// view only on instruction, one instructed to this operator), or a
	// reason. Core decides; the form only offers what may work.
	purposes := []option{{value: "", label: s.T("view.byreason")}}
	for _, r := range s.data.reqs {
		if !viewableFor(r, c.ID) {
			continue
		}
		if core.ScopeOf(s.c.Actor.Role).AssignedOnly && !r.AssignedTo(s.c.Actor) && s.data.policy.OperatorViewsOnInstruction {
			continue
		}
		purposes = append(purposes, option{value: r.ID, label: r.ID + " " + oneLine(r.Agency)})
	}
	f := newForm(s, fmt.Sprintf(s.T("view.f"), c.ID+" "+c.Name),
		choiceField("mode", "view.mode", modes, "range"),
		choiceField("request", "view.request", purposes, ""),
		s.textField("reason", "view.reason", "", ""),
		s.textField("from", "req.from", now.Add(-time.Hour).Format("2006-01-02 15:04"), "YYYY-MM-DD hh:mm"),
		s.textField("to", "req.to", now.Format("2006-01-02 15:04"), "YYYY-MM-DD hh:mm"))
	ranged := func() bool { return f.value("mode") == "range" }
	f.field("from").show, f.field("to").show, f.field("request").show = ranged, ranged, ranged
	f.field("reason").show = func() bool { return ranged() && f.value("request") == "" }
	f.head = []string{s.st.Dim.Render(oneLine(c.Location + "  " + c.Direction)), ""}
	f.validate = func(f *form) tea.Cmd {
		from, okF := f.timeOf("from")
		to, okT := f.timeOf("to")
		if okF && okT && !from.Before(to) {
			f.field("to").err = s.T("form.order")
		}
		f.required("from", "to", "reason")
		return nil
	}
	return f
}

// viewableFor: r's footage of camera may be viewed for it now (between
// the instruction to search and the handover).
func viewableFor(r core.Request, camera string) bool {
	switch r.State {
	case core.StateInstructed, core.StateSearched, core.StateApproved, core.StateExported:
	default:
		return false
	}
	for _, c := range r.Cameras {
		if c == camera {
			return true
		}
	}
	return false
}

func (p *recordingsPage) submit() tea.Cmd {
	s, f := p.s, p.act
	if !f.ok() {
		return nil
	}
	f.busy = true
	switch p.step {
	case "add":
		from, _ := f.timeOf("from")
		to, _ := f.timeOf("to")
		until, _ := f.timeOf("until")
		return s.addHold(core.HoldInput{Camera: f.value("camera"), From: from.UTC(), To: to.UTC(), Until: until.UTC(),
			Reason: f.value("reason")})
	case "release":
		if id, all := strings.CutPrefix(f.value("which"), reqHoldsPrefix); all {
			return s.releaseRequestHolds(id, f.value("reason"))
		}
		return s.releaseHold(f.value("which"), f.value("reason"))
	case "view":
		c, _ := p.camera()
		title := fmt.Sprintf(s.T("view.title.cam"), c.ID+" "+c.Name)
		if f.value("mode") == "live" {
			return s.mint("recordings", title, []string{c.ID}, time.Time{}, time.Time{}, true, "", "")
		}
		from, _ := f.timeOf("from")
		to, _ := f.timeOf("to")
		return s.mint("recordings", title, []string{c.ID}, from.UTC(), to.UTC(), false, f.value("request"), f.value("reason"))
	}
	return nil
}

func (p *recordingsPage) onHoldAction(m holdActionMsg) tea.Cmd {
	if p.act == nil {
		return nil
	}
	if m.err != nil {
		p.act.busy = false
		p.act.setErr(m.err)
		return nil
	}
	p.act = nil
	return nil
}
