package tui

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"mimamori/core"
)

// reqAction is the step being put together: which one, on which request.
type reqAction struct {
	step string // new | instruct | result | approve | deny | export | provide | close
	req  core.Request
	form *form
}

// actions are the next steps on r this role may take (000 §8-9, 001 §6).
// Nothing the role may not do is ever offered; core checks again.
func (p *requestsPage) actions(r core.Request) []key.Binding {
	s, k := p.s, p.s.keys
	var out []key.Binding
	add := func(b key.Binding, a core.Action, ok bool) {
		if ok && s.allowed(a) {
			out = append(out, b)
		}
	}
	outcome := ""
	if r.Result != nil {
		outcome = r.Result.Outcome
	}
	switch r.State {
	case core.StateRegistered:
		add(k.Instruct, core.ActionRequestInstruct, true)
		add(k.Deny, core.ActionRequestDeny, true)
	case core.StateInstructed:
		add(k.Result, core.ActionRequestResult, true)
		add(k.Instruct, core.ActionRequestInstruct, true)
		add(k.Deny, core.ActionRequestDeny, true)
	case core.StateSearched:
		add(k.Approve, core.ActionRequestApprove, outcome != "not-found")
		add(k.Deny, core.ActionRequestDeny, true)
		add(k.CloseReq, core.ActionRequestClose, outcome == "not-found")
	case core.StateApproved:
		// No export before the package has a key (core refuses it too).
		add(k.Export, core.ActionRequestExport, s.c.ExportDir != "" && r.Protection != nil)
		add(k.Protect, core.ActionRequestProtect, true)
	case core.StateExported:
		add(k.Provide, core.ActionRequestProvide, true)
	case core.StateDenied, core.StateProvided:
		add(k.CloseReq, core.ActionRequestClose, true)
	}
	switch r.State {
	case core.StateInstructed, core.StateSearched, core.StateApproved:
		add(k.View, core.ActionView, s.canView()) // check by playback
	}
	return out
}

// summary is the request's one-line context above a step's form.
func (s *session) summary(r core.Request) []string {
	return []string{
		s.st.Dim.Render(oneLine(fmt.Sprintf("%s  %s  %s  %s ~ %s", r.ID, r.Agency, strings.Join(r.Cameras, ","),
			s.fmtDateTime(r.From), s.fmtDateTime(r.To)))),
		"",
	}
}

// begin opens the form of step b on r.
func (p *requestsPage) begin(b key.Binding, r core.Request) tea.Cmd {
	s, k := p.s, p.s.keys
	a := &reqAction{req: r}
	title := func(key string) string { return fmt.Sprintf(s.T(key), r.ID) }
	switch {
	case key.Matches(keyOf(b), k.New):
		a.step, a.form = "new", p.newRequestForm()
	case key.Matches(keyOf(b), k.Instruct):
		ops := s.operators()
		if len(ops) == 0 {
			return statusCmd(s.T("req.noops"), true)
		}
		a.step = "instruct"
		a.form = newForm(s, title("req.f.instruct"), choiceField("operator", "req.operator", ops, r.AssignedOperatorKey))
	case key.Matches(keyOf(b), k.Result):
		// 000 §9-2: the operator names, per camera, the range found by
		// search and playback ("FROM ~ TO", several with ";"; blank: none).
		a.step = "result"
		fields := []*formField{
			choiceField("outcome", "req.outcome", s.choiceOpts("outcome.", []string{"found", "not-found", "other"}), "found"),
			s.textField("note", "req.note", "", s.T("req.note.ph")),
		}
		ph := s.fmtRangeTime(r.From) + " ~ " + s.fmtRangeTime(r.To)
		for _, c := range r.Cameras {
			x := s.textField("found_"+c, fmt.Sprintf(s.T("req.foundcam"), c), "", ph)
			x.show = func() bool { return a.form.value("outcome") != "not-found" }
			fields = append(fields, x)
		}
		a.form = newForm(s, title("req.f.result"), fields...)
		a.form.validate = func(f *form) tea.Cmd {
			if f.value("outcome") == "other" {
				f.required("note")
			}
			n := s.rangeFields(f, r.Cameras)
			if f.value("outcome") == "found" && n == 0 && len(r.Cameras) > 0 {
				f.field("found_" + r.Cameras[0]).err = s.T("req.foundnone")
			}
			return nil
		}
	case key.Matches(keyOf(b), k.Approve):
		// The approval covers what was found; the manager may narrow it
		// and must state the regulation's judgement (000 §8, 001 §6).
		a.step = "approve"
		fields := []*formField{s.textField("judgement", "req.judgement", "", s.judgementQuestion())}
		found := map[string][]string{}
		for _, g := range r.FoundRanges() {
			found[g.Camera] = append(found[g.Camera], s.fmtRangeTime(g.From)+" ~ "+s.fmtRangeTime(g.To))
		}
		for _, c := range r.Cameras {
			if len(found[c]) > 0 {
				fields = append(fields, s.textField("found_"+c, fmt.Sprintf(s.T("req.approvecam"), c), strings.Join(found[c], "; "), ""))
			}
		}
		withRanges := len(fields) > 1
		fields = append(fields, s.protectionFields(r)...)
		a.form = newForm(s, title("req.f.approve"), fields...)
		a.form.validate = func(f *form) tea.Cmd {
			f.required("judgement", "recipient_key")
			if s.rangeFields(f, r.Cameras) == 0 && withRanges {
				fields[1].err = s.T("req.foundnone")
			}
			return nil
		}
		if r.Result != nil {
			a.form.foot = []string{s.T("req.outcome") + ": " + s.T("outcome."+r.Result.Outcome) + "  " + oneLine(r.Result.Note)}
		}
		if r.RecipientKey != "" && !r.RecipientKeyByManager {
			a.form.foot = append(a.form.foot, fmt.Sprintf(s.T("req.recipientkey.unused"), oneLine(r.CreatedBy)))
		}
	case key.Matches(keyOf(b), k.Protect):
		a.step = "protect"
		a.form = newForm(s, title("req.f.protect"), s.protectionFields(r)...)
		a.form.foot = []string{s.st.Warn.Render(trunc(s.T("req.protect.replaces"), p.w))}
		a.form.validate = func(f *form) tea.Cmd { f.required("recipient_key"); return nil }
	case key.Matches(keyOf(b), k.Deny):
		a.step = "deny"
		a.form = newForm(s, title("req.f.deny"), s.textField("reason", "req.reason", "", ""))
		a.form.validate = func(f *form) tea.Cmd { f.required("reason"); return nil }
	case key.Matches(keyOf(b), k.Export):
		a.step = "export"
		// The passphrase is the manager's lock, asked only while set; the
		// package is encrypted to the key the manager chose at approval.
		if s.c.Core.HasExportPassphrase() {
			a.form = newForm(s, title("req.f.export"), s.secretField("passphrase", "req.passphrase"))
			a.form.validate = func(f *form) tea.Cmd { f.required("passphrase"); return nil }
		} else {
			a.form = newForm(s, title("req.f.export"))
		}
		a.form.foot = []string{s.st.Dim.Render(trunc(s.T("req.exportdir")+": "+s.c.ExportDir, p.w))}
	case key.Matches(keyOf(b), k.Provide):
		a.step = "provide"
		a.form = newForm(s, title("req.f.provide"),
			s.textField("recipient", "req.recipient", "", s.T("keys.name.ph")),
			s.textField("agency", "req.agency", r.Agency, ""),
			s.textField("id_doc", "req.iddoc", "", s.T("req.iddoc.ph")),
			s.textField("date", "req.date", s.local(s.now()).Format("2006-01-02"), "YYYY-MM-DD"),
			s.textField("written_ref", "req.writtenref", r.WrittenRef, ""),
			s.textField("medium", "req.medium", "", s.T("req.medium.ph")))
		a.form.validate = func(f *form) tea.Cmd {
			f.timeOf("date")
			f.required("recipient", "agency", "id_doc", "date", "written_ref", "medium")
			return nil
		}
	case key.Matches(keyOf(b), k.CloseReq):
		a.step = "close"
		a.form = newForm(s, title("req.f.close"))
	case key.Matches(keyOf(b), k.View):
		return s.mint("requests", fmt.Sprintf(s.T("view.title.req"), r.ID), r.Cameras, r.From, r.To, false, r.ID, "")
	default:
		return nil
	}
	if a.step != "new" {
		a.form.head = s.summary(r)
	}
	if len(a.form.fields) == 0 {
		a.form.foot = append(a.form.foot, "", s.T("form.confirm"))
	}
	p.act = a
	return tea.Batch(a.form.focusField(0), a.form.check())
}

// keyOf turns a binding into the key that triggers it, so begin can
// switch on bindings with key.Matches.
func keyOf(b key.Binding) tea.KeyMsg {
	ks := b.Keys()
	if len(ks) == 0 {
		return tea.KeyMsg{}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(ks[0])}
}

// operators are the enrolled, active operator keys, by name: whom a
// search can be instructed to.
func (s *session) operators() []option {
	now := s.now()
	seen := map[string]bool{}
	var out []option
	for _, k := range s.data.keys {
		// By key (core resolves the fingerprint), shown by name.
		if core.ScopeOf(k.Role).AssignedOnly && core.Allowed(k.Role, core.ActionRequestResult) && k.Active(now) && !seen[k.Fingerprint] {
			seen[k.Fingerprint] = true
			out = append(out, option{value: k.Fingerprint, label: k.Name})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].label < out[j].label })
	return out
}

// cameraOpts lists the register's cameras still in place.
func (s *session) cameraOpts() []option {
	var out []option
	for _, c := range s.data.cams {
		if c.Status != core.CameraRemoved {
			out = append(out, option{value: c.ID, label: c.ID + " " + c.Name})
		}
	}
	return out
}

// newRequestForm is form 2 (利用申請書) with the legal ground.
func (p *requestsPage) newRequestForm() *form {
	s := p.s
	f := newForm(s, s.T("req.f.new"),
		s.textField("received", "req.received", s.local(s.now()).Format("2006-01-02 15:04"), "YYYY-MM-DD hh:mm"),
		s.textField("address", "req.address", "", ""),
		s.textField("agency", "req.agency", "", ""),
		s.textField("representative", "req.representative", "", ""),
		s.textField("contact", "req.contact", "", ""),
		s.textField("phone", "req.phone", "", ""),
		choiceField("purpose", "req.purpose", s.purposeOpts(), "investigation"),
		s.textField("reason", "req.preason", "", ""),
		choiceField("ground", "req.ground", s.groundOpts(), "law"),
		s.textField("ground_note", "req.gnote", "", ""),
		s.textField("consent", "req.consent", "", s.T("req.consent.ph")),
		multiField("cameras", "req.cameras", s.cameraOpts(), nil),
		s.textField("from", "req.from", "", "YYYY-MM-DD hh:mm"),
		s.textField("to", "req.to", "", "YYYY-MM-DD hh:mm"),
		s.textField("notes", "req.notes", "", ""),
		s.textField("written_ref", "req.writtenref", "", ""),
	)
	f.field("reason").show = func() bool { return f.value("purpose") == "other" }
	f.field("ground_note").show = func() bool { g, _ := s.groundRule(f.value("ground")); return g.NeedsNote || g.Code == "other" }
	f.field("consent").show = func() bool { g, _ := s.groundRule(f.value("ground")); return g.NeedsConsent }
	f.validate = p.validateRequest
	return f
}

// validateRequest checks form 2 as the user types; a coverage check of
// the cameras over the range runs in a Cmd and comes back as a warning.
func (p *requestsPage) validateRequest(f *form) tea.Cmd {
	s := p.s
	f.timeOf("received")
	f.required("received", "address", "agency", "representative", "contact", "phone", "reason", "ground_note", "consent", "from", "to")
	cams := f.multi("cameras")
	if len(cams) == 0 {
		f.field("cameras").err = s.T("form.cameras")
	}
	for _, c := range cams {
		if _, ok := s.data.camera(c); !ok {
			f.field("cameras").err = fmt.Sprintf(s.T("form.unknowncam"), c)
		}
	}
	from, okF := f.timeOf("from")
	to, okT := f.timeOf("to")
	if !okF || !okT {
		return nil
	}
	if !from.Before(to) {
		f.field("to").err = s.T("form.order")
		return nil
	}
	now := s.now()
	switch {
	case to.After(now):
		f.field("to").warn = s.T("form.future")
	case from.Before(now.Add(-s.data.retention())):
		f.field("from").warn = s.T("form.old")
	}
	if len(cams) == 0 {
		return nil
	}
	k := strings.Join(cams, ",") + "|" + from.UTC().Format(time.RFC3339) + "|" + to.UTC().Format(time.RFC3339)
	if p.cover.key == k {
		if p.cover.err == nil && len(p.cover.missing) > 0 {
			var parts []string
			for _, c := range cams {
				if m, ok := p.cover.missing[c]; ok {
					parts = append(parts, c+" "+s.dur(m))
				}
			}
			f.field("cameras").warn = fmt.Sprintf(s.T("form.notrecorded"), strings.Join(parts, ", "))
		}
		return nil
	}
	p.cover = coverCheckMsg{key: k}
	if !s.allowed(core.ActionRecordingsRead) {
		return nil
	}
	return s.coverCheck(k, cams, from.UTC(), to.UTC())
}

// submit sends the step to core (in a Cmd) once the form is valid.
func (p *requestsPage) submit() tea.Cmd {
	a, s := p.act, p.s
	f := a.form
	if !f.ok() {
		return nil
	}
	f.busy = true
	id := a.req.ID
	switch a.step {
	case "new":
		in := core.RequestInput{
			ApplicantAddress: f.value("address"), Agency: f.value("agency"), Representative: f.value("representative"),
			ContactPerson: f.value("contact"), Phone: f.value("phone"), Purpose: f.value("purpose"),
			Ground: f.value("ground"), Cameras: f.multi("cameras"), Notes: f.value("notes"), WrittenRef: f.value("written_ref"),
		}
		if in.Purpose == "other" {
			in.PurposeReason = f.value("reason")
		}
		if f.field("ground_note").visible() {
			in.GroundNote = f.value("ground_note")
		}
		if f.field("consent").visible() {
			in.Consent = f.value("consent")
		}
		in.ReceivedAt, _ = f.timeOf("received")
		in.From, _ = f.timeOf("from")
		in.To, _ = f.timeOf("to")
		in.ReceivedAt, in.From, in.To = in.ReceivedAt.UTC(), in.From.UTC(), in.To.UTC()
		return s.registerRequest(in)
	case "instruct":
		return s.instruct(id, f.value("operator"))
	case "result":
		var ranges []core.FoundRange
		if f.value("outcome") != "not-found" {
			ranges = s.formRanges(f, a.req.Cameras)
		}
		return s.recordResult(id, f.value("outcome"), f.value("note"), ranges)
	case "approve":
		return s.approve(id, core.ApprovalInput{Judgement: f.value("judgement"), Ranges: s.formRanges(f, a.req.Cameras)},
			f.value("protection"), f.value("recipient_key"))
	case "protect":
		return s.protect(id, f.value("protection"), f.value("recipient_key"))
	case "deny":
		return s.deny(id, f.value("reason"))
	case "provide":
		d, _ := f.timeOf("date")
		return s.provide(id, core.Provision{Recipient: f.value("recipient"), Agency: f.value("agency"),
			IDDocType: f.value("id_doc"), Date: d.UTC(), WrittenRef: f.value("written_ref"), Medium: f.value("medium")})
	case "close":
		return s.closeRequest(id)
	case "export":
		run, cmd := s.startExport(id, []byte(f.value("passphrase")))
		p.export, p.expDone, p.expTotal = run, 0, 0
		return cmd
	}
	return nil
}

// onAction takes a step's outcome: done closes the form and shows the
// request as core returned it; a field error goes next to its field.
func (p *requestsPage) onAction(m reqActionMsg) tea.Cmd {
	a := p.act
	if a == nil {
		return nil
	}
	if m.err != nil && m.closeForm {
		p.act = nil
		return nil
	}
	if m.err != nil {
		a.form.busy = false
		if a.step == "export" && errors.Is(m.err, core.ErrWrongPassphrase) {
			x := a.form.field("passphrase")
			x.in.SetValue("")
			x.err, x.touched = p.s.T("req.badpass"), true
			return a.form.focusField(0)
		}
		a.form.setErr(m.err)
		return nil
	}
	p.act = nil
	if m.secret != "" || m.sheet {
		// Shown once, to the manager who approved: it is not stored.
		p.secret = newSecretScreen(p.s, m.req, m.secret)
	}
	if m.req.ID != "" && p.open == m.req.ID {
		p.req = m.req
		p.buildDetail()
	}
	return nil
}

// exportView: the request, what is being written and how far it got.
func (p *requestsPage) exportView() string {
	s, st := p.s, p.s.st
	r := p.act.req
	lines := []string{st.Title.Render(fmt.Sprintf(s.T("req.f.export"), r.ID))}
	lines = append(lines, s.summary(r)...)
	lines = append(lines, s.T("req.exporting")+" "+s.c.ExportDir, "")
	barW := max(p.w-4-12, 10)
	frac := 0.0
	if p.expTotal > 0 {
		frac = min(float64(p.expDone)/float64(p.expTotal), 1)
	}
	full := int(frac * float64(barW))
	lines = append(lines, "  "+st.BarUsed.Render(strings.Repeat("█", full))+st.BarFree.Render(strings.Repeat("░", barW-full))+
		fmt.Sprintf(" %5.1f%%", frac*100))
	lines = append(lines, "  "+fmtBytes(p.expDone)+" / "+fmtBytes(p.expTotal))
	if p.export != nil && p.export.ctx.Err() != nil {
		lines = append(lines, "", st.Warn.Render(s.T("req.cancelling")))
	}
	for len(lines) < p.h-1 {
		lines = append(lines, "")
	}
	lines = append(lines, st.Dim.Render(s.T("req.export.keys")))
	return block(strings.Join(lines, "\n"), p.w, p.h)
}

// linksView shows the exact port-forward command and the URL to open,
// wrapped (never cut) so both can be copied whole.
func linksView(s *session, m *mintMsg, w, h int) string {
	st := s.st
	lines := []string{st.Title.Render(trunc(m.title, w)), ""}
	wrap := func(v string) {
		for _, l := range strings.Split(ansi.Hardwrap(v, max(w-4, 10), true), "\n") {
			lines = append(lines, "    "+l)
		}
	}
	fwd := ""
	for _, l := range m.links {
		if l.forward != fwd {
			fwd = l.forward
			lines = append(lines, st.Label.Render(s.T("view.step1")))
			wrap(l.forward)
		}
		what := s.fmtDateTime(l.from) + " ~ " + s.fmtDateTime(l.to)
		if l.live {
			what = s.T("view.live")
		}
		lines = append(lines, st.Label.Render(fmt.Sprintf(s.T("view.step2"), l.camera, what)))
		wrap(l.url)
		lines = append(lines, st.Dim.Render("    "+fmt.Sprintf(s.T("view.expires"), s.fmtDateTime(l.expires))))
	}
	lines = append(lines, "", st.Dim.Render(s.T("view.players")))
	for len(lines) < h-1 {
		lines = append(lines, "")
	}
	if len(lines) > h-1 {
		lines = lines[:h-1]
	}
	lines = append(lines, st.Dim.Render(s.T("view.keys")))
	return block(strings.Join(lines, "\n"), w, h)
}

// rangeFields checks the per-camera range fields ("found_<cam>") and
// returns how many ranges they name.
func (s *session) rangeFields(f *form, cams []string) int {
	n := 0
	for _, c := range cams {
		x := f.field("found_" + c)
		if x == nil || !x.visible() {
			continue
		}
		rs, ok := s.parseRanges(c, f.value("found_"+c))
		if !ok {
			x.err = s.T("req.badrange")
			continue
		}
		n += len(rs)
	}
	return n
}

// formRanges collects the ranges of the per-camera fields.
func (s *session) formRanges(f *form, cams []string) []core.FoundRange {
	var out []core.FoundRange
	for _, c := range cams {
		if x := f.field("found_" + c); x != nil && x.visible() {
			rs, _ := s.parseRanges(c, f.value("found_"+c))
			out = append(out, rs...)
		}
	}
	return out
}

// groundRule is the profile's ground with this code.
func (s *session) groundRule(code string) (core.Ground, bool) {
	if p, ok := s.policy(); ok {
		return p.Ground(code)
	}
	return core.Ground{Choice: core.Choice{Code: code}}, false
}

// protectionFields choose what the package is encrypted to: a secret
// shown once, a key sheet printed on the manager's computer, or the
// recipient's public key (then typed or kept from the request).
func (s *session) protectionFields(r core.Request) []*formField {
	// Only a key a manager named is offered: the operator who exports
	// must not choose what the package opens with (core refuses it).
	offered, sel := "", protectSecret
	if r.RecipientKeyByManager && r.RecipientKey != "" {
		offered, sel = r.RecipientKey, protectRecipient
	}
	prot := choiceField("protection", "req.protection", []option{
		{value: protectSecret, label: s.T("req.prot.secret")},
		{value: protectSheet, label: s.T("req.prot.sheet")},
		{value: protectRecipient, label: s.T("req.prot.recipient")},
	}, sel)
	rk := s.textField("recipient_key", "req.recipientkey", offered, s.T("req.recipientkey.ph"))
	var f []*formField
	f = append(f, prot, rk)
	rk.show = func() bool { return prot.sel < len(prot.opts) && prot.opts[prot.sel].value == protectRecipient }
	return f
}

// judgementQuestion is what the manager must answer when approving.
func (s *session) judgementQuestion() string {
	if p, ok := s.policy(); ok {
		return p.Judgement.Text(s.lang)
	}
	return s.T("req.judgement")
}
