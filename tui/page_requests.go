package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"mimamori/core"
)

// requestsPage is the queue of third-party requests (form 2) with where
// each one stands; Enter opens every field and the history.
type requestsPage struct {
	s    *session
	tbl  *listTable
	w, h int

	open    string // id of the request shown in full, "" for the list
	req     core.Request
	reqErr  error
	loaded  bool
	detail  []string
	scrollY int

	act               *reqAction // the form of the step being taken, if any
	export            *exportRun // the export running, if any
	expDone, expTotal int64
	links             *mintMsg      // playback URLs on screen, if any
	secret            *secretScreen // a package secret shown once, or the key sheet's command
	cover             coverCheckMsg // last coverage check of the entry form
}

func requestsSpecs() []colSpec {
	return []colSpec{
		{title: "col.id", min: 11, prio: 10},
		{title: "col.received", min: 10, prio: 3},
		{title: "col.agency", min: 10, max: 30, flex: 2, prio: 7},
		{title: "col.purpose", min: 6, prio: 2},
		{title: "col.state", min: 10, prio: 9},
		{title: "col.age", min: 9, prio: 5, right: true},
		{title: "col.next", min: 10, max: 30, flex: 2, prio: 8},
		{title: "col.whose", min: 8, max: 20, flex: 1, prio: 8},
		{title: "col.cameras", min: 8, max: 30, flex: 1, prio: 1},
	}
}

func newRequestsPage(s *session) *requestsPage {
	return &requestsPage{s: s, tbl: newListTable(s, requestsSpecs())}
}

func (p *requestsPage) SetSize(w, h int) {
	p.w, p.h = w, h
	p.tbl.specs = titled(p.s, requestsSpecs())
	p.tbl.SetSize(w, h)
	p.rebuild()
	p.buildDetail()
}

func (p *requestsPage) Capturing() bool {
	return p.act != nil || p.export != nil || p.links != nil || p.secret != nil
}

func (p *requestsPage) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case requestsMsg, refreshMsg:
		p.rebuild()
		p.buildDetail()
	case holdsMsg:
		p.buildDetail()
	case requestMsg:
		if p.open != "" {
			p.req, p.reqErr, p.loaded = msg.req, msg.err, true
			p.buildDetail()
		}
	case changesMsg:
		if p.open != "" {
			for _, c := range msg {
				if c.Subject == p.open {
					return p.s.loadRequest(p.open)
				}
			}
		}
	case reqActionMsg:
		return p.onAction(msg)
	case exportProgressMsg:
		if msg.run == p.export {
			p.expDone, p.expTotal = msg.done, msg.total
			return waitExport(msg.run)
		}
	case exportDoneMsg:
		if msg.run == p.export {
			p.export = nil
			return p.onAction(msg.res)
		}
	case mintMsg:
		if msg.err == nil && msg.origin == "requests" {
			p.links = &msg
		}
	case coverCheckMsg:
		if p.act != nil && msg.key == p.cover.key {
			p.cover = msg
			p.act.form.check()
		}
	case tea.KeyMsg:
		return p.key(msg)
	}
	return nil
}

func (p *requestsPage) key(msg tea.KeyMsg) tea.Cmd {
	k := p.s.keys
	switch {
	case p.secret != nil:
		done, cmd := p.secret.key(p.s, msg)
		if done {
			p.secret = nil
		}
		return cmd
	case p.links != nil:
		if msg.Type == tea.KeyEsc {
			p.links = nil
		}
		return nil
	case p.export != nil:
		if msg.Type == tea.KeyEsc {
			p.export.cancel() // the exporter stops; core ledgers the failed attempt
		}
		return nil
	case p.act != nil:
		res, cmd := p.act.form.Update(msg)
		switch res {
		case formCancel:
			p.act = nil
			return statusCmd(p.s.T("keys.cancelled"), false)
		case formSubmit:
			return p.submit()
		}
		return cmd
	}
	if r, ok := p.selected(); ok {
		for _, b := range p.actions(r) {
			if key.Matches(msg, b) {
				return p.begin(b, r)
			}
		}
	}
	if p.open == "" && key.Matches(msg, k.New) && p.s.allowed(core.ActionRequestRegister) {
		return p.begin(k.New, core.Request{})
	}
	if p.open != "" {
		switch {
		case key.Matches(msg, k.Back):
			p.open = ""
		case key.Matches(msg, k.Up):
			p.scroll(-1)
		case key.Matches(msg, k.Down):
			p.scroll(1)
		case key.Matches(msg, k.PageUp):
			p.scroll(-p.h + 1)
		case key.Matches(msg, k.PageDown):
			p.scroll(p.h - 1)
		case key.Matches(msg, k.Top):
			p.scroll(-len(p.detail))
		case key.Matches(msg, k.Bottom):
			p.scroll(len(p.detail))
		}
		return nil
	}
	if key.Matches(msg, k.Open) {
		reqs := p.s.data.reqs
		if i := p.tbl.Cursor(); i >= 0 && i < len(reqs) {
			p.open, p.loaded, p.scrollY = reqs[i].ID, false, 0
			p.req = reqs[i] // shown at once; the fresh read replaces it
			p.buildDetail()
			return p.s.loadRequest(p.open)
		}
		return nil
	}
	return p.tbl.Update(msg)
}

// selected is the request the actions apply to: the open one, or the
// row under the cursor.
func (p *requestsPage) selected() (core.Request, bool) {
	if p.open != "" {
		return p.req, p.req.ID != ""
	}
	reqs := p.s.data.reqs
	if i := p.tbl.Cursor(); i >= 0 && i < len(reqs) {
		return reqs[i], true
	}
	return core.Request{}, false
}

func (p *requestsPage) scroll(n int) {
	p.scrollY = min(max(p.scrollY+n, 0), max(len(p.detail)-p.h, 0))
}

func (p *requestsPage) rebuild() {
	s := p.s
	now := s.now()
	rows := make([][]string, 0, len(s.data.reqs))
	for _, r := range s.data.reqs {
		next, whose := p.nextStep(r)
		rows = append(rows, []string{
			r.ID, s.fmtDate(r.ReceivedAt), r.Agency, s.purposeText(r.Purpose),
			s.T("rstate." + string(r.State)), s.dur(now.Sub(r.CreatedAt)), next, whose,
			strings.Join(r.Cameras, ","),
		})
	}
	p.tbl.SetRows(rows)
}

// nextStep is what the paperwork waits for and whose move it is
// (000 §8-9, 001 §6).
func (p *requestsPage) nextStep(r core.Request) (string, string) {
	s := p.s
	mgr, op := s.roleName(core.RoleManager), s.roleName(core.RoleOperator)
	if r.AssignedOperator != "" {
		op = r.AssignedOperator
	}
	switch r.State {
	case core.StateRegistered:
		return s.T("next.instruct"), mgr
	case core.StateInstructed:
		return s.T("next.search"), op
	case core.StateSearched:
		if r.Result != nil && r.Result.Outcome == "not-found" {
			return s.T("next.close"), mgr
		}
		return s.T("next.decide"), mgr
	case core.StateApproved:
		if r.Protection == nil {
			return s.T("next.protect"), mgr
		}
		return s.T("next.export"), op
	case core.StateDenied, core.StateProvided:
		return s.T("next.close"), mgr
	case core.StateExported:
		return s.T("next.provide"), mgr
	}
	return "-", "-"
}

// buildDetail lays out every field of form 2, the result, decision,
// export, provision and the history.
func (p *requestsPage) buildDetail() {
	if p.open == "" {
		p.detail = nil
		return
	}
	s, st, r := p.s, p.s.st, p.req
	var out []string
	kv := func(k, v string) {
		out = append(out, st.Label.Render(fit(s.T(k), 18))+" "+oneLine(v))
	}
	head := func(k string) {
		out = append(out, "", st.Title.Render(s.T(k)))
	}
	next, whose := p.nextStep(r)
	out = append(out, st.Title.Render(r.ID)+"  "+s.T("rstate."+string(r.State))+"  "+
		st.Dim.Render(s.T("col.next")+": "+next+" ("+whose+")"))
	if p.reqErr != nil {
		out = append(out, st.Error.Render(s.errText(p.reqErr)))
	}
	if acts := p.actions(r); len(acts) > 0 {
		var parts []string
		for _, b := range acts {
			parts = append(parts, "["+b.Help().Key+"] "+b.Help().Desc)
		}
		out = append(out, st.Input.Render(s.T("req.actions")+": "+strings.Join(parts, "  ")))
	}
	head("req.form2")
	kv("req.received", s.fmtDateTime(r.ReceivedAt))
	kv("req.address", r.ApplicantAddress)
	kv("req.agency", r.Agency)
	kv("req.representative", r.Representative)
	kv("req.contact", r.ContactPerson)
	kv("req.phone", r.Phone)
	purpose := s.purposeText(r.Purpose)
	if r.PurposeReason != "" {
		purpose += " (" + r.PurposeReason + ")"
	}
	kv("req.purpose", purpose)
	ground := s.groundText(r.Ground)
	if r.GroundNote != "" {
		ground += " (" + r.GroundNote + ")"
	}
	kv("req.ground", ground)
	kv("req.cameras", strings.Join(r.Cameras, ", "))
	kv("req.range", s.fmtDateTime(r.From)+" ~ "+s.fmtDateTime(r.To))
	kv("req.notes", r.Notes)
	kv("req.writtenref", r.WrittenRef)
	if r.Consent != "" {
		kv("req.consent", r.Consent)
	}
	kv("req.operator", r.AssignedOperator)
	kv("req.holds", strings.Join(r.HoldIDs, ", "))
	kv("req.createdby", r.CreatedBy+"  "+s.fmtDateTime(r.CreatedAt))
	if x := r.Result; x != nil {
		head("req.result")
		kv("req.outcome", s.T("outcome."+x.Outcome))
		kv("req.note", x.Note)
		kv("req.by", x.By+"  "+s.fmtDateTime(x.At))
		for _, g := range r.FoundRanges() {
			kv("req.found", s.rangeText(g))
		}
	}
	if x := r.Decision; x != nil {
		head("req.decision")
		kv("req.decided", s.yesNo(x.Approved))
		kv("req.reason", x.Reason)
		if x.Judgement != "" {
			kv("req.judgement", x.Judgement)
		}
		for _, g := range r.ApprovedRanges() {
			kv("req.approved", s.rangeText(g))
		}
		if x.Approved && r.Export == nil {
			kv("req.protection", s.protectionText(r))
		}
		kv("req.by", x.By+"  "+s.fmtDateTime(x.At))
	}
	if x := r.Export; x != nil {
		head("req.export")
		kv("req.path", x.Path)
		kv("req.manifest", x.ManifestHash)
		for _, f := range x.Files {
			kv("req.file", fmt.Sprintf("%s  %s  %s  sha256:%s", f.Camera, f.Name, fmtBytes(f.Bytes), f.SHA256))
		}
		kv("req.by", x.By+"  "+s.fmtDateTime(x.At))
	}
	if x := r.Provision; x != nil {
		head("req.provision")
		kv("req.recipient", x.Recipient+"  "+x.Agency)
		kv("req.iddoc", x.IDDocType)
		kv("req.date", s.fmtDate(x.Date))
		kv("req.writtenref", x.WrittenRef)
		kv("req.by", x.By+"  "+s.fmtDateTime(x.At))
	}
	if hs := p.requestHolds(r); len(hs) > 0 {
		head("req.holds")
		for _, h := range hs {
			line := fmt.Sprintf("%s %s  %s ~ %s  %s %s  %s", h.ID, h.Camera, s.fmtShort(h.From), s.fmtShort(h.To),
				s.T("rec.until"), s.fmtDateTime(h.Until), s.T("hold.kind."+h.Kind))
			if !h.ReleasedAt.IsZero() {
				line += "  " + s.T("hold.released") + " " + s.fmtDateTime(h.ReleasedAt)
			}
			out = append(out, "  "+oneLine(line))
		}
	}
	head("req.history")
	for _, t := range r.History {
		line := s.fmtDateTime(t.At) + "  " + fit(s.T("rstate."+string(t.State)), 12) + " " + t.By
		if t.Note != "" {
			line += "  " + t.Note
		}
		out = append(out, "  "+oneLine(line))
	}
	// The printed forms are files: the exact command that writes each one
	// on the person's own computer (forms 2 and 3, the receipt).
	if s.allowed(core.ActionFormIssue) && r.ID != "" {
		head("req.print")
		cmds := []string{"form 2 " + r.ID + " > " + r.ID + "-form2.html", "form 3 " + r.ID + " > " + r.ID + "-form3.html"}
		if r.Export != nil {
			cmds = append(cmds, "request receipt "+r.ID+" > "+r.ID+"-receipt.html")
		}
		for _, c := range cmds {
			out = append(out, indent(hardwrap(s.command(c), p.w-2))...)
		}
	}
	p.detail = out
	p.scroll(0)
}

// protectionText is what the package will be encrypted to.
func (s *session) protectionText(r core.Request) string {
	switch p := r.Protection; {
	case p == nil:
		return s.T("req.prot.none")
	case p.Method == core.ProtectRecipientKey:
		return s.T("req.prot.recipient") + "  " + p.KeyID + "  " + p.By + " " + s.fmtDateTime(p.At)
	default:
		return s.T("req.prot.held") + "  " + p.By + " " + s.fmtDateTime(p.At)
	}
}

// requestHolds are the holds the request placed.
func (p *requestsPage) requestHolds(r core.Request) []core.Hold {
	var out []core.Hold
	for _, h := range p.s.data.holds {
		if h.RequestID == r.ID && r.ID != "" {
			out = append(out, h)
		}
	}
	return out
}

func (p *requestsPage) View() string {
	s, d := p.s, &p.s.data
	switch {
	case p.secret != nil:
		return p.secret.view(s, p.w, p.h)
	case p.links != nil:
		return linksView(s, p.links, p.w, p.h)
	case p.export != nil:
		return p.exportView()
	case p.act != nil:
		return p.act.form.View(p.w, p.h)
	}
	if p.open != "" {
		end := min(p.scrollY+p.h, len(p.detail))
		return block(strings.Join(p.detail[p.scrollY:end], "\n"), p.w, p.h)
	}
	if !d.reqsLoaded {
		msg := s.T("loading")
		if d.reqsErr != nil {
			msg = s.errText(d.reqsErr)
		}
		return block("\n  "+msg, p.w, p.h)
	}
	if len(d.reqs) == 0 {
		return block("\n  "+s.T("req.none"), p.w, p.h)
	}
	return p.tbl.View()
}

func (p *requestsPage) ShortHelp() []key.Binding {
	k := p.s.keys
	switch {
	case p.secret != nil:
		return []key.Binding{k.Submit, k.Sheet, k.Back}
	case p.links != nil, p.export != nil:
		return []key.Binding{k.Back}
	case p.act != nil:
		return []key.Binding{k.NextField, k.Save, k.Cancel}
	}
	if p.open == "" {
		// The row's actions are in the full help and the detail.
		out := []key.Binding{k.Up, k.Down, k.Open}
		if p.s.allowed(core.ActionRequestRegister) {
			out = append(out, k.New)
		}
		return out
	}
	out := []key.Binding{k.Back}
	if r, ok := p.selected(); ok {
		out = append(out, p.actions(r)...)
	}
	return append(out, k.Up, k.Down)
}

func (p *requestsPage) FullHelp() [][]key.Binding {
	k := p.s.keys
	out := [][]key.Binding{{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom}, {k.Open, k.Back}}
	if r, ok := p.selected(); ok {
		out = append(out, p.actions(r))
	}
	return out
}
