package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"mimamori/core"
)

// upkeepPage is the register's records that are not about footage: what
// the regulation expects and the records lack, the inspection schedule
// (001 §8-1), custody of the recorder (000 §7-3, 001 §5-1), the sites'
// layout plans (001 §2-1) and the maintenance log (001 §8). It is the
// manager's and the technician's; core decides who may record what.
type upkeepPage struct {
	s      *session
	view   upkeepView
	tables [upkeepViews]*listTable
	w, h   int

	form     *form
	formKind string // "inspection" | "custody" | "disposal"
}

type upkeepView int

const (
	viewWarnings upkeepView = iota
	viewInspections
	viewCustody
	viewPlans
	viewMaint
	upkeepViews
)

func (v upkeepView) titleKey() string {
	return [...]string{"upk.warnings", "upk.inspections", "upk.custody", "upk.plans", "upk.maint"}[v]
}

// upkeepDetailH: a separator and six lines about the selected row (a
// layout plan's hash and two command lines, wrapped whole at 80 columns).
const upkeepDetailH = 7

func upkeepSpecs(v upkeepView) []colSpec {
	switch v {
	case viewWarnings:
		return []colSpec{
			{title: "col.clause", min: 9, prio: 9},
			{title: "col.subject", min: 8, max: 20, flex: 1, prio: 5},
			{title: "col.text", min: 20, flex: 6, prio: 10},
		}
	case viewInspections:
		return []colSpec{
			{title: "col.camera", min: 10, max: 26, flex: 2, prio: 10},
			{title: "col.lastinsp", min: 10, prio: 7},
			{title: "col.due", min: 10, prio: 9},
			{title: "col.inspstate", min: 8, flex: 1, max: 14, prio: 10},
		}
	case viewCustody:
		return []colSpec{
			{title: "col.since", min: 16, prio: 9},
			{title: "col.installed", min: 10, max: 30, flex: 3, prio: 10},
			{title: "col.cabinet", min: 8, max: 24, flex: 2, prio: 8},
			{title: "col.keyholder", min: 8, max: 20, flex: 2, prio: 8},
			{title: "col.antiremoval", min: 8, max: 24, flex: 2, prio: 4},
			{title: "col.by", min: 8, max: 16, flex: 1, prio: 2},
		}
	case viewPlans:
		return []colSpec{
			{title: "col.id", min: 11, prio: 8},
			{title: "col.site", min: 8, max: 24, flex: 2, prio: 10},
			{title: "col.file", min: 8, max: 24, flex: 2, prio: 9},
			{title: "col.size", min: 9, prio: 5, right: true},
			{title: "col.cameras", min: 8, max: 20, flex: 1, prio: 4},
			{title: "col.filed", min: 16, prio: 6},
			{title: "col.sha256", min: 16, max: 64, flex: 2, prio: 3},
		}
	}
	return []colSpec{
		{title: "col.date", min: 16, prio: 9},
		{title: "col.kind", min: 8, max: 14, flex: 1, prio: 10},
		{title: "col.camera", min: 6, max: 12, prio: 8},
		{title: "col.performer", min: 8, max: 20, flex: 2, prio: 7},
		{title: "col.notes", min: 8, max: 40, flex: 3, prio: 5},
		{title: "col.by", min: 8, max: 16, flex: 1, prio: 3},
	}
}

func newUpkeepPage(s *session) *upkeepPage {
	p := &upkeepPage{s: s}
	for v := range upkeepViews {
		p.tables[v] = newListTable(s, upkeepSpecs(v))
	}
	return p
}

func (p *upkeepPage) SetSize(w, h int) {
	p.w, p.h = w, h
	for v := range upkeepViews {
		p.tables[v].specs = titled(p.s, upkeepSpecs(v))
		p.tables[v].SetSize(w, max(h-1-upkeepDetailH, 2))
	}
	p.rebuild()
}

func (p *upkeepPage) Capturing() bool { return p.form != nil }

func (p *upkeepPage) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case camerasMsg, upkeepMsg, keysMsg, refreshMsg:
		p.rebuild()
	case regActionMsg:
		if msg.origin == "upkeep" && p.form != nil {
			if msg.err == nil {
				p.form = nil
				return nil
			}
			p.form.busy = false
			p.form.setErr(msg.err)
		}
	case tea.KeyMsg:
		if p.form != nil {
			res, cmd := p.form.Update(msg)
			switch res {
			case formCancel:
				p.form = nil
				return statusCmd(p.s.T("keys.cancelled"), false)
			case formSubmit:
				return p.submit()
			}
			return cmd
		}
		return p.listKey(msg)
	}
	return nil
}

func (p *upkeepPage) listKey(msg tea.KeyMsg) tea.Cmd {
	s, k := p.s, p.s.keys
	switch {
	case key.Matches(msg, k.ViewNext):
		p.view = (p.view + 1) % upkeepViews
		return nil
	case key.Matches(msg, k.ViewPrev):
		p.view = (p.view + upkeepViews - 1) % upkeepViews
		return nil
	case key.Matches(msg, k.Inspect) && p.canInspect():
		return p.inspectionForm()
	case key.Matches(msg, k.Custody) && s.allowed(core.ActionCustody):
		return p.custodyForm()
	case key.Matches(msg, k.Dispose) && s.allowed(core.ActionDisposal):
		return p.disposalForm()
	}
	return p.tables[p.view].Update(msg)
}

// canInspect: recording an inspection is a maintenance record, which
// core lets technicians (inspections only) and the manager make.
func (p *upkeepPage) canInspect() bool { return p.s.allowed(core.ActionMaintenance) }

func (p *upkeepPage) inspectionForm() tea.Cmd {
	s := p.s
	opts := []option{{value: "", label: s.T("upk.allcams")}}
	opts = append(opts, s.cameraOpts()...)
	sel := ""
	if p.view == viewInspections {
		if i := p.tables[viewInspections].Cursor(); i >= 0 && i < len(s.data.sched) {
			sel = s.data.sched[i].Camera
		}
	}
	// The work recorded here: an inspection, or (not for a scope that
	// records inspections only) a replacement. Signs and removals are on
	// the Cameras tab, where the camera is.
	kinds := []option{{value: core.MaintInspection, label: s.codeLabel("maintenance", core.MaintInspection)}}
	if !core.ScopeOf(s.c.Actor.Role).InspectionsOnly {
		kinds = append(kinds, option{value: core.MaintReplacement, label: s.codeLabel("maintenance", core.MaintReplacement)})
	}
	f := newForm(s, s.T("upk.f.inspection"),
		choiceField("kind", "upk.kind", kinds, core.MaintInspection),
		choiceField("camera", "upk.camera", opts, sel),
		s.textField("performer", "upk.performer", s.c.Actor.Name, s.T("upk.performer.ph")),
		s.textField("date", "upk.date", s.local(s.now()).Format("2006-01-02 15:04"), "YYYY-MM-DD hh:mm"),
		s.textField("notes", "upk.notes", "", s.T("upk.notes.ph")),
	)
	f.head = append(s.headLines(s.intervalText(), p.w), "")
	f.validate = func(f *form) tea.Cmd {
		f.timeOf("date")
		f.required("performer", "date")
		return nil
	}
	p.form, p.formKind = f, "inspection"
	return tea.Batch(f.focusField(0), f.check())
}

// disposalForm records a storage medium made unreadable and disposed of
// (001 §5-4): which medium, how, by whom.
func (p *upkeepPage) disposalForm() tea.Cmd {
	s := p.s
	f := newForm(s, s.T("upk.f.disposal"),
		s.textField("media", "upk.media", "", s.T("upk.media.ph")),
		s.textField("method", "upk.method", "", s.T("upk.method.ph")),
		s.textField("performer", "upk.performer", s.c.Actor.Name, s.T("upk.performer.ph")),
		s.textField("date", "upk.date", s.local(s.now()).Format("2006-01-02 15:04"), "YYYY-MM-DD hh:mm"),
		s.textField("notes", "upk.notes", "", ""),
	)
	f.validate = func(f *form) tea.Cmd {
		f.timeOf("date")
		f.required("media", "method", "performer", "date")
		return nil
	}
	p.form, p.formKind = f, "disposal"
	return tea.Batch(f.focusField(0), f.check())
}

// custodyForm records where the recorder is kept now, starting from the
// current record so an unchanged field need not be typed again.
func (p *upkeepPage) custodyForm() tea.Cmd {
	s := p.s
	var cur core.CustodyRecord
	if len(s.data.custody) > 0 {
		cur = s.data.custody[0]
	}
	f := newForm(s, s.T("upk.f.custody"),
		s.textField("location", "upk.installed", cur.Location, s.T("upk.installed.ph")),
		s.textField("cabinet", "upk.cabinet", cur.Cabinet, s.T("upk.cabinet.ph")),
		s.textField("key_holder", "upk.keyholder", cur.KeyHolder, s.T("upk.keyholder.ph")),
		s.textField("anti_removal", "upk.antiremoval", cur.AntiRemoval, s.T("upk.antiremoval.ph")),
		s.textField("since", "upk.since", s.local(s.now()).Format("2006-01-02 15:04"), "YYYY-MM-DD hh:mm"),
		s.textField("notes", "upk.notes", "", ""),
	)
	f.head = append(s.headLines(s.T("upk.custody.why"), p.w), "")
	f.validate = func(f *form) tea.Cmd {
		f.timeOf("since")
		f.required("location", "cabinet", "key_holder", "anti_removal", "since")
		return nil
	}
	p.form, p.formKind = f, "custody"
	return tea.Batch(f.focusField(0), f.check())
}

func (p *upkeepPage) submit() tea.Cmd {
	s, f := p.s, p.form
	if !f.ok() {
		return nil
	}
	f.busy = true
	switch p.formKind {
	case "inspection":
		in := core.MaintenanceInput{Kind: f.value("kind"), Camera: f.value("camera"),
			Performer: f.value("performer"), Notes: f.value("notes")}
		d, _ := f.timeOf("date")
		in.Date = d.UTC()
		name := in.Camera
		if name == "" {
			name = s.T("upk.allcams")
		}
		what := "upk.done.inspection"
		if in.Kind != core.MaintInspection {
			what = "upk.done.replacement"
		}
		return s.regWrite("upkeep", what, name, func(b Backend, a core.Actor) error {
			_, err := b.RecordMaintenance(a, in)
			return err
		})
	case "disposal":
		in := core.DisposalInput{Media: f.value("media"), Method: f.value("method"), Performer: f.value("performer"),
			Notes: f.value("notes")}
		d, _ := f.timeOf("date")
		in.Date = d.UTC()
		return s.regWrite("upkeep", "upk.done.disposal", in.Media, func(b Backend, a core.Actor) error {
			_, err := b.RecordDisposal(a, in)
			return err
		})
	case "custody":
		in := core.CustodyInput{Location: f.value("location"), Cabinet: f.value("cabinet"),
			KeyHolder: f.value("key_holder"), AntiRemoval: f.value("anti_removal"), Notes: f.value("notes")}
		d, _ := f.timeOf("since")
		in.Since = d.UTC()
		return s.regWrite("upkeep", "upk.done.custody", in.Location, func(b Backend, a core.Actor) error {
			_, err := b.RecordCustody(a, in)
			return err
		})
	}
	return nil
}

// headLines is a form's explanation, wrapped to at most two lines.
func (s *session) headLines(text string, w int) []string {
	var out []string
	for _, l := range strings.Split(wrapCells(text, w, 2), "\n") {
		if l != "" {
			out = append(out, s.st.Dim.Render(l))
		}
	}
	return out
}

// intervalText is the policy's inspection schedule in words.
func (s *session) intervalText() string {
	pl, ok := s.policy()
	if !ok || pl.InspectionIntervalDays <= 0 {
		return s.T("upk.nointerval")
	}
	return fmt.Sprintf(s.T("upk.interval"), pl.InspectionIntervalDays)
}

// rebuild turns the session's data into rows; it runs when data arrives,
// never per keypress.
func (p *upkeepPage) rebuild() {
	s, d := p.s, &p.s.data
	rows := make([][]string, 0, len(d.warnings))
	for _, w := range d.warnings {
		rows = append(rows, []string{w.Clause, dashIf(w.Subject), w.Text.Text(s.lang)})
	}
	p.tables[viewWarnings].SetRows(rows)

	rows = make([][]string, 0, len(d.sched))
	for _, x := range d.sched {
		name := x.Camera
		if c, ok := d.camera(x.Camera); ok && c.Name != "" {
			name += " " + c.Name
		}
		rows = append(rows, []string{name, s.fmtDate(x.Last), s.fmtDate(x.Due), s.inspectionState(x.State)})
	}
	p.tables[viewInspections].SetRows(rows)

	rows = make([][]string, 0, len(d.custody))
	for _, c := range d.custody {
		rows = append(rows, []string{s.fmtDateTime(c.Since), c.Location, c.Cabinet, c.KeyHolder, c.AntiRemoval, c.CreatedBy})
	}
	p.tables[viewCustody].SetRows(rows)

	rows = make([][]string, 0, len(d.plans))
	for _, pl := range d.plans {
		cams := strings.Join(pl.Cameras, ",")
		if cams == "" {
			cams = s.T("upk.wholesite")
		}
		rows = append(rows, []string{pl.ID, pl.Site, pl.FileName, fmtBytes(pl.Bytes), cams, s.fmtDateTime(pl.CreatedAt), pl.SHA256})
	}
	p.tables[viewPlans].SetRows(rows)

	rows = make([][]string, 0, len(d.maint))
	for _, m := range d.maint {
		rows = append(rows, []string{s.fmtDateTime(m.Date), s.codeLabel("maintenance", m.Kind), dashIf(m.Camera),
			dashIf(m.Performer), dashIf(oneLine(m.Notes)), m.CreatedBy})
	}
	p.tables[viewMaint].SetRows(rows)
}

// inspectionState is a schedule state in words, OVERDUE loudest.
func (s *session) inspectionState(state string) string {
	switch state {
	case core.InspectionOverdue:
		return s.T("insp.overdue")
	case core.InspectionDueSoonState:
		return s.T("insp.duesoon")
	}
	return s.T("insp.okstate")
}

// codeLabel is core's label of a code in the session's language.
func (s *session) codeLabel(kind, code string) string { return core.CodeLabel(kind, code, s.lang) }

func (p *upkeepPage) View() string {
	s, d := p.s, &p.s.data
	if p.form != nil {
		return p.form.View(p.w, p.h)
	}
	if !d.upkeepLoaded {
		msg := s.T("loading")
		if d.upkeepErr != nil {
			msg = s.errText(d.upkeepErr)
		}
		return block("\n  "+msg, p.w, p.h)
	}
	parts := []string{p.barView(), p.tables[p.view].View(), p.detail()}
	return block(strings.Join(parts, "\n"), p.w, p.h)
}

// barView names the views, the current one marked, with counts that
// matter (warnings, inspections due).
func (p *upkeepPage) barView() string {
	s, st, d := p.s, p.s.st, &p.s.data
	var parts []string
	for v := range upkeepViews {
		label := s.T(v.titleKey())
		switch v {
		case viewWarnings:
			label += fmt.Sprintf("(%d)", len(d.warnings))
		case viewInspections:
			if n := dueCount(d.sched); n > 0 {
				label += fmt.Sprintf("(!%d)", n)
			}
		}
		switch {
		case v == p.view:
			parts = append(parts, st.TabActive.Render("["+label+"]"))
		case v == viewWarnings && len(d.warnings) > 0, v == viewInspections && dueCount(d.sched) > 0:
			parts = append(parts, st.Warn.Render(" "+label+" "))
		default:
			parts = append(parts, st.TabInactive.Render(" "+label+" "))
		}
	}
	return fit(strings.Join(parts, ""), p.w)
}

func dueCount(sched []core.InspectionDue) int {
	n := 0
	for _, x := range sched {
		if x.State != core.InspectionOK {
			n++
		}
	}
	return n
}

// detail: four lines about the selected row (or the view), under a rule.
func (p *upkeepPage) detail() string {
	s, st, d := p.s, p.s.st, &p.s.data
	kv := func(k, v string) string { return st.Label.Render(s.T(k)+": ") + oneLine(v) }
	i := p.tables[p.view].Cursor()
	var lines []string
	switch p.view {
	case viewWarnings:
		if i >= 0 && i < len(d.warnings) {
			w := d.warnings[i]
			lines = append(lines, st.Warn.Render("! ["+w.Clause+"] ")+wrapCells(oneLine(w.Text.Text(s.lang)), p.w-len(w.Clause)-5, 2))
			if h := s.T("warn.do." + w.Code); h != "warn.do."+w.Code {
				lines = append(lines, st.Dim.Render("→ "+h))
			}
		} else {
			lines = append(lines, st.OK.Render(s.T("upk.nowarnings")))
		}
	case viewInspections:
		lines = append(lines, s.intervalText())
		if i >= 0 && i < len(d.sched) {
			x := d.sched[i]
			state := s.inspectionState(x.State)
			switch x.State {
			case core.InspectionOverdue:
				state = st.Bad.Render(state)
			case core.InspectionDueSoonState:
				state = st.Warn.Render(state)
			default:
				state = st.OK.Render(state)
			}
			lines = append(lines, st.Title.Render(x.Camera)+"  "+kv("col.lastinsp", s.fmtDate(x.Last))+"  "+
				kv("col.due", s.fmtDate(x.Due))+"  "+state)
		}
		if p.canInspect() {
			lines = append(lines, st.Dim.Render(s.T("upk.inspect.hint")))
		}
	case viewCustody:
		if len(d.custody) == 0 {
			lines = append(lines, st.Warn.Render(s.T("upk.nocustody")))
		} else {
			c := d.custody[0]
			if i >= 0 && i < len(d.custody) {
				c = d.custody[i]
			}
			lines = append(lines,
				st.Title.Render(c.ID)+"  "+kv("upk.since", s.fmtDateTime(c.Since))+"  "+kv("col.by", c.CreatedBy),
				kv("upk.installed", c.Location)+"  "+kv("upk.cabinet", c.Cabinet),
				kv("upk.keyholder", c.KeyHolder)+"  "+kv("upk.antiremoval", c.AntiRemoval))
			if c.Notes != "" {
				lines = append(lines, kv("upk.notes", c.Notes))
			}
		}
		if s.allowed(core.ActionCustody) {
			lines = append(lines, st.Dim.Render(s.T("upk.custody.hint")))
		}
	case viewPlans:
		// Upload and download stay commands: a file does not pass
		// through a terminal. The console shows what is on file, its
		// hash, and the exact command line for each.
		// Command lines are wrapped, never cut: they are copied whole.
		if i >= 0 && i < len(d.plans) {
			pl := d.plans[i]
			lines = append(lines, st.Title.Render(pl.ID)+"  "+kv("col.site", pl.Site)+"  "+kv("col.file", pl.FileName),
				"SHA-256 "+pl.SHA256)
			lines = append(lines, hardwrap(s.T("upk.get")+" "+s.command("layout get "+pl.ID+" > "+shellWord(pl.FileName)), p.w)...)
		} else {
			lines = append(lines, st.Warn.Render(s.T("upk.noplans")))
		}
		if s.allowed(core.ActionLayoutPlan) {
			lines = append(lines, hardwrap(s.T("upk.add")+" "+s.command("layout add --site SITE --file plan.pdf [--cameras cam1,cam2] < plan.pdf"), p.w)...)
		}
	case viewMaint:
		if s.allowed(core.ActionDisposal) {
			lines = append(lines, st.Dim.Render(s.T("upk.dispose.hint")))
		}
		if i >= 0 && i < len(d.maint) {
			m := d.maint[i]
			lines = append(lines, st.Title.Render(m.ID)+"  "+kv("col.kind", s.codeLabel("maintenance", m.Kind))+"  "+
				kv("col.performer", m.Performer)+"  "+kv("col.by", m.CreatedBy))
			if m.Media != "" {
				lines = append(lines, kv("upk.media", m.Media)+"  "+kv("upk.method", m.Method))
			}
			if m.Notes != "" {
				lines = append(lines, kv("upk.notes", m.Notes))
			}
		} else {
			lines = append(lines, st.Dim.Render(s.T("upk.nomaint")))
		}
	}
	out := []string{strings.Repeat("-", p.w)}
	for _, l := range lines {
		out = append(out, strings.Split(l, "\n")...)
	}
	return block(strings.Join(out, "\n"), p.w, upkeepDetailH)
}

// shellWord quotes a file name for the command line shown.
func shellWord(v string) string {
	v = oneLine(v)
	if v != "" && strings.IndexFunc(v, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-+", r))
	}) < 0 {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}

func (p *upkeepPage) ShortHelp() []key.Binding {
	k := p.s.keys
	if p.form != nil {
		return []key.Binding{k.NextField, k.Save, k.Cancel}
	}
	out := []key.Binding{k.ViewNext}
	if p.canInspect() {
		out = append(out, k.Inspect)
	}
	if p.s.allowed(core.ActionCustody) {
		out = append(out, k.Custody)
	}
	if p.s.allowed(core.ActionDisposal) {
		out = append(out, k.Dispose)
	}
	return out
}

func (p *upkeepPage) FullHelp() [][]key.Binding {
	k := p.s.keys
	return [][]key.Binding{{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom}, {k.ViewPrev, k.ViewNext, k.Inspect, k.Custody, k.Dispose}}
}
