package tui

import (
	"fmt"
	"slices"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"mimamori/core"
)

// camerasPage is the register (000 §4, 001 §2) with live ingest state.
type camerasPage struct {
	s    *session
	tbl  *listTable
	w, h int

	// Removing a camera (manager): reason, then confirm.
	removing string // camera id; "" when no dialog
	confirm  bool
	input    textinput.Model

	// A sign posted or removed, or the police consultation date (000
	// §4-2, §4-3; 001 §2, §8-2): a form over the page.
	form     *form
	formKind string // "sign" | "police"
	formCam  string
}

const camDetailLines = 4

func camerasSpecs() []colSpec {
	return []colSpec{
		{title: "col.num", min: 4, max: 6, prio: 9},
		{title: "col.name", min: 10, max: 24, flex: 2, prio: 10},
		{title: "col.location", min: 10, max: 30, flex: 3, prio: 5},
		{title: "col.direction", min: 8, max: 24, flex: 2, prio: 1},
		{title: "col.sign", min: 4, prio: 2},
		{title: "col.police", min: 10, prio: 1},
		{title: "col.state", min: 10, prio: 8},
		{title: "col.fps", min: 5, prio: 6, right: true},
		{title: "col.bitrate", min: 9, prio: 6, right: true},
		{title: "col.lastframe", min: 11, prio: 4},
		{title: "col.reconn", min: 4, prio: 3, right: true},
		{title: "col.lasterr", min: 10, max: 40, flex: 3, prio: 2},
	}
}

func newCamerasPage(s *session) *camerasPage {
	p := &camerasPage{s: s, tbl: newListTable(s, camerasSpecs())}
	p.input = newInput(s, "> ", 1000)
	return p
}

func (p *camerasPage) SetSize(w, h int) {
	p.w, p.h = w, h
	specs := titled(p.s, camerasSpecs())
	if !p.s.allowed(core.ActionHealthRead) {
		for i := 7; i < len(specs); i++ { // fps … last error: live state only
			specs[i].hide = true
		}
	}
	p.tbl.specs = specs
	p.tbl.SetSize(w, max(h-camDetailLines-1-p.warnH(), 2))
	p.rebuild()
}

// warnH is the lines the regulation's warnings take under the table
// (at most 4, and a title).
func (p *camerasPage) warnH() int {
	n := len(p.s.data.warnings)
	if n == 0 {
		return 0
	}
	return min(n, 4) + 1
}

// titled widens each column's minimum to its title in this language.
func titled(s *session, specs []colSpec) []colSpec {
	for i := range specs {
		if tw := width(s.T(specs[i].title)); tw > specs[i].min {
			specs[i].min = tw
		}
	}
	return specs
}

func (p *camerasPage) Capturing() bool { return p.removing != "" || p.form != nil }

func (p *camerasPage) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case camerasMsg:
		p.SetSize(p.w, p.h) // the warnings may have changed the table's height
	case healthMsg, refreshMsg:
		p.rebuild()
	case regActionMsg:
		if msg.origin == "cameras" && p.form != nil {
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
		if p.removing != "" {
			return p.dialogKey(msg)
		}
		if key.Matches(msg, p.s.keys.Sign) && p.canSign() {
			return p.signForm()
		}
		if key.Matches(msg, p.s.keys.Police) && p.s.allowed(core.ActionCameraUpdate) {
			return p.policeForm()
		}
		if key.Matches(msg, p.s.keys.RemoveCam) && p.s.allowed(core.ActionCameraRemove) {
			i := p.tbl.Cursor()
			d := &p.s.data
			if i < 0 || i >= len(d.cams) || d.cams[i].Status == core.CameraRemoved {
				return statusCmd(p.s.T("cam.pick"), true)
			}
			p.removing, p.confirm = d.cams[i].ID, false
			p.input.SetValue("")
			p.input.Placeholder = p.s.T("keys.reason.ph")
			return p.input.Focus()
		}
		return p.tbl.Update(msg)
	}
	return nil
}

// canSign: a sign record is a maintenance record other than an
// inspection, which core's scope keeps from technicians.
func (p *camerasPage) canSign() bool {
	return p.s.allowed(core.ActionMaintenance) && !core.ScopeOf(p.s.c.Actor.Role).InspectionsOnly
}

// selected is the camera under the cursor, if still in place.
func (p *camerasPage) selected() (core.Camera, bool) {
	d := &p.s.data
	i := p.tbl.Cursor()
	if i < 0 || i >= len(d.cams) || d.cams[i].Status == core.CameraRemoved {
		return core.Camera{}, false
	}
	return d.cams[i], true
}

// signForm records a sign put up or taken down (form 1; 000 §4-3).
func (p *camerasPage) signForm() tea.Cmd {
	s := p.s
	c, ok := p.selected()
	if !ok {
		return statusCmd(s.T("cam.pick"), true)
	}
	next := core.MaintSignPosted
	if c.SignPosted {
		next = core.MaintSignRemoval
	}
	f := newForm(s, fmt.Sprintf(s.T("cam.f.sign"), c.ID),
		choiceField("kind", "cam.sign", []option{
			{value: core.MaintSignPosted, label: s.codeLabel("maintenance", core.MaintSignPosted)},
			{value: core.MaintSignRemoval, label: s.codeLabel("maintenance", core.MaintSignRemoval)}}, next),
		s.textField("performer", "upk.performer", s.c.Actor.Name, s.T("upk.performer.ph")),
		s.textField("date", "upk.date", s.local(s.now()).Format("2006-01-02 15:04"), "YYYY-MM-DD hh:mm"),
		s.textField("notes", "upk.notes", "", ""),
	)
	f.head = []string{s.st.Dim.Render(trunc(fmt.Sprintf(s.T("cam.sign.now"), oneLine(c.Name), s.yesNo(c.SignPosted), s.fmtDateTime(c.SignChangedAt)), p.w)), ""}
	f.validate = func(f *form) tea.Cmd {
		f.timeOf("date")
		f.required("performer", "date")
		return nil
	}
	p.form, p.formKind, p.formCam = f, "sign", c.ID
	return tea.Batch(f.focusField(0), f.check())
}

// policeForm records the date the police were consulted (000 §4-2).
func (p *camerasPage) policeForm() tea.Cmd {
	s := p.s
	c, ok := p.selected()
	if !ok {
		return statusCmd(s.T("cam.pick"), true)
	}
	v := s.local(s.now()).Format("2006-01-02")
	if !c.PoliceConsulted.IsZero() {
		v = s.fmtDate(c.PoliceConsulted)
	}
	f := newForm(s, fmt.Sprintf(s.T("cam.f.police"), c.ID), s.textField("police_consulted", "cam.police.date", v, "YYYY-MM-DD"))
	f.head = append(s.headLines(s.T("cam.police.why"), p.w), "")
	f.validate = func(f *form) tea.Cmd {
		f.timeOf("police_consulted")
		f.required("police_consulted")
		return nil
	}
	p.form, p.formKind, p.formCam = f, "police", c.ID
	return tea.Batch(f.focusField(0), f.check())
}

func (p *camerasPage) submit() tea.Cmd {
	s, f, id := p.s, p.form, p.formCam
	if !f.ok() {
		return nil
	}
	f.busy = true
	switch p.formKind {
	case "sign":
		in := core.MaintenanceInput{Kind: f.value("kind"), Camera: id, Performer: f.value("performer"), Notes: f.value("notes")}
		d, _ := f.timeOf("date")
		in.Date = d.UTC()
		return s.regWrite("cameras", "cam.done.sign", id, func(b Backend, a core.Actor) error {
			_, err := b.RecordMaintenance(a, in)
			return err
		})
	case "police":
		d, _ := f.timeOf("police_consulted")
		return s.regWrite("cameras", "cam.done.police", id, func(b Backend, a core.Actor) error {
			// As the police command does: the register's entry as stored,
			// only the date changed (an empty URL keeps the stored one).
			c, err := b.Camera(a, id)
			if err != nil {
				return err
			}
			c.PoliceConsulted, c.URL = d.UTC(), ""
			_, err = b.UpdateCamera(a, c)
			return err
		})
	}
	return nil
}

// dialogKey: the reason, then y/n. Recording stops when core has
// recorded the removal.
func (p *camerasPage) dialogKey(msg tea.KeyMsg) tea.Cmd {
	s := p.s
	if msg.Type == tea.KeyEsc || (p.confirm && (msg.String() == "n" || msg.String() == "N")) {
		p.removing = ""
		p.input.Blur()
		return statusCmd(s.T("keys.cancelled"), false)
	}
	if p.confirm {
		if msg.String() == "y" || msg.String() == "Y" {
			id, reason := p.removing, strings.TrimSpace(p.input.Value())
			p.removing = ""
			p.input.Blur()
			return s.removeCamera(id, reason)
		}
		return nil
	}
	if msg.Type == tea.KeyEnter {
		if strings.TrimSpace(p.input.Value()) != "" {
			p.confirm = true
		}
		return nil
	}
	var cmd tea.Cmd
	p.input, cmd = p.input.Update(msg)
	return cmd
}

func (p *camerasPage) rebuild() {
	d := &p.s.data
	rows := make([][]string, 0, len(d.cams))
	for _, c := range d.cams {
		st, live := d.camStats(c.ID)
		row := []string{
			c.Number, c.Name, oneLine(c.Location), oneLine(c.Direction),
			p.s.yesNo(c.SignPosted), p.s.fmtDate(c.PoliceConsulted),
			p.stateText(c, st, live), "-", "-", "-", "-", "",
		}
		if live {
			row[7] = fmt.Sprintf("%.1f", st.FPS)
			row[8] = fmtBitrate(st.BitrateBps)
			row[9] = p.s.fmtClock(st.LastFrame)
			row[10] = fmt.Sprint(st.Reconnects)
			row[11] = oneLine(st.LastError)
		}
		rows = append(rows, row)
	}
	p.tbl.SetRows(rows)
}

// stateText: the register's status wins (maintenance, removed), then the
// recorder's ingest state.
func (p *camerasPage) stateText(c core.Camera, st core.CameraStats, live bool) string {
	if c.Status != "" && c.Status != core.CameraActive {
		return p.s.T("cam." + c.Status)
	}
	if !live {
		return "-"
	}
	if st.State == "" {
		if st.Connected {
			return p.s.T("state.recording")
		}
		return p.s.T("state.error")
	}
	return p.s.T("state." + st.State)
}

func (p *camerasPage) View() string {
	d := &p.s.data
	if p.form != nil {
		return p.form.View(p.w, p.h)
	}
	if !d.camsLoaded {
		return block("\n  "+p.loadingText(), p.w, p.h)
	}
	if len(d.cams) == 0 {
		return block("\n  "+p.s.T("cam.none"), p.w, p.h)
	}
	out := p.tbl.View() + "\n" + p.detail()
	if p.removing != "" {
		out = p.tbl.View() + "\n" + p.removeDialog()
	}
	if w := p.warningsView(); w != "" {
		out += "\n" + w
	}
	return out
}

// removeDialog asks for the reason, then for confirmation.
func (p *camerasPage) removeDialog() string {
	s, st := p.s, p.s.st
	lines := []string{strings.Repeat("-", p.w), st.Title.Render(trunc(fmt.Sprintf(s.T("cam.remove.reason"), p.removing), p.w))}
	if p.confirm {
		lines = append(lines, st.Bad.Render(trunc(fmt.Sprintf(s.T("cam.remove.confirm"), p.removing), p.w)),
			trunc(s.T("keys.reason")+": "+oneLine(p.input.Value())+"   [y] "+s.T("key.confirm")+"  [n] "+s.T("key.cancel"), p.w))
	} else {
		lines = append(lines, p.input.View(), st.Dim.Render(trunc(s.T("cam.remove.note"), p.w)))
	}
	return block(strings.Join(lines, "\n"), p.w, camDetailLines+1)
}

// warningsView lists what the regulation expects that the records lack:
// a camera recording with no sign (000 §4-3) or police consultation
// (000 §4-2), an overdue inspection, no custody record...
func (p *camerasPage) warningsView() string {
	return p.s.warningsBlock(p.w, 4, core.WarnSignMissing, core.WarnPoliceMissing, core.WarnLayoutMissing)
}

// warningsBlock is the first n warnings under a title with their count
// (and, when some are left out, where the whole list is): the same block
// on the Cameras and Storage tabs, each putting the codes of its own
// topic first. "" when there are none.
func (s *session) warningsBlock(w, n int, first ...string) string {
	st := s.st
	ws := make([]core.Warning, 0, len(s.data.warnings))
	for _, x := range s.data.warnings {
		if slices.Contains(first, x.Code) {
			ws = append(ws, x)
		}
	}
	for _, x := range s.data.warnings {
		if !slices.Contains(first, x.Code) {
			ws = append(ws, x)
		}
	}
	if len(ws) == 0 {
		return ""
	}
	title := fmt.Sprintf(s.T("cam.warnings"), len(ws))
	if len(ws) > n {
		title += "  " + s.T("cam.warnings.more")
	}
	lines := []string{st.Warn.Render(trunc(title, w))}
	for i, x := range ws {
		if i == n {
			break
		}
		lines = append(lines, st.Warn.Render(trunc("! ["+x.Clause+"] "+oneLine(x.Text.Text(s.lang)), w)))
	}
	return block(strings.Join(lines, "\n"), w, min(len(ws), n)+1)
}

func (p *camerasPage) loadingText() string {
	if d := &p.s.data; d.camsErr != nil {
		return p.s.errText(d.camsErr)
	}
	return p.s.T("loading")
}

// detail shows every register field of the selected camera, and its
// live state, under the table.
func (p *camerasPage) detail() string {
	s, d, st := p.s, &p.s.data, p.s.st
	i := p.tbl.Cursor()
	lines := []string{strings.Repeat("-", p.w)}
	if i >= 0 && i < len(d.cams) {
		c := d.cams[i]
		kv := func(k, v string) string { return st.Label.Render(s.T(k)+": ") + v }
		lines = append(lines,
			st.Title.Render(c.ID)+"  "+kv("col.num", c.Number)+"  "+kv("col.name", c.Name)+"  "+kv("col.status", s.T("cam."+orDefault(c.Status, core.CameraActive))),
			kv("col.location", oneLine(c.Location))+"  "+kv("col.direction", oneLine(c.Direction)),
			kv("col.sign", s.yesNo(c.SignPosted))+"  "+kv("col.police", s.fmtDate(c.PoliceConsulted)),
		)
		if cs, ok := d.camStats(c.ID); ok {
			live := kv("col.state", p.stateText(c, cs, true))
			if cs.Codec != "" {
				live += fmt.Sprintf("  %s %dx%d", cs.Codec, cs.Width, cs.Height)
			}
			live += fmt.Sprintf("  %.1f fps  %s  ", cs.FPS, fmtBitrate(cs.BitrateBps)) +
				kv("col.lastframe", s.fmtClock(cs.LastFrame)) + "  " + kv("col.reconn", fmt.Sprint(cs.Reconnects))
			if cs.LastError != "" {
				live += "  " + st.Error.Render(s.T("col.lasterr")+": "+oneLine(cs.LastError))
			}
			lines = append(lines, live)
		} else if !s.allowed(core.ActionHealthRead) {
			lines = append(lines, st.Dim.Render(s.T("cam.nolive")))
		}
	}
	return block(strings.Join(lines, "\n"), p.w, camDetailLines+1)
}

func (p *camerasPage) ShortHelp() []key.Binding {
	k := p.s.keys
	if p.form != nil {
		return []key.Binding{k.NextField, k.Save, k.Cancel}
	}
	if p.removing != "" {
		return []key.Binding{k.Submit, k.Cancel}
	}
	return append([]key.Binding{k.Up, k.Down}, p.actionKeys()...)
}

// actionKeys are the register records this role may make here.
func (p *camerasPage) actionKeys() []key.Binding {
	k := p.s.keys
	var out []key.Binding
	if p.canSign() {
		out = append(out, k.Sign)
	}
	if p.s.allowed(core.ActionCameraUpdate) {
		out = append(out, k.Police)
	}
	if p.s.allowed(core.ActionCameraRemove) {
		out = append(out, k.RemoveCam)
	}
	return out
}

func (p *camerasPage) FullHelp() [][]key.Binding {
	k := p.s.keys
	return [][]key.Binding{{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom}, p.actionKeys()}
}

// oneLine flattens user or device text so it cannot break the layout
// or smuggle terminal escapes: core's one sanitiser, on one line.
func oneLine(s string) string { return core.CleanLine(s, 0) }

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
