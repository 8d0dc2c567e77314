package tui

import (
	"errors"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"mimamori/core"
)

// form is the console's data-entry screen: one line per field, label,
// control and that field's message side by side, validated as the user
// types. Pages build one per action and read it back on submit.
type form struct {
	s      *session
	title  string   // already translated
	head   []string // context lines above the fields
	fields []*formField
	focus  int
	offset int
	tried  bool // a submit was attempted: show every error
	busy   bool // the action is running: keys are ignored
	foot   []string
	// validate runs after every edit; it sets err/warn on fields and
	// may return a Cmd (e.g. a coverage check).
	validate func(f *form) tea.Cmd
}

type fieldKind int

const (
	fieldText fieldKind = iota
	fieldSecret
	fieldChoice // one of opts
	fieldMulti  // any of opts
)

type option struct{ value, label string }

type formField struct {
	name    string // core's field name, as in core.FieldError
	label   string // i18n key
	kind    fieldKind
	in      textinput.Model
	opts    []option
	sel     int             // choice: selected; multi: cursor
	picked  map[string]bool // multi
	show    func() bool     // nil: always shown
	touched bool
	err     string
	warn    string
}

func (s *session) textField(name, label, value, placeholder string) *formField {
	in := newInput(s, "", 500)
	in.SetValue(value)
	in.Placeholder = placeholder
	return &formField{name: name, label: label, kind: fieldText, in: in}
}

func (s *session) secretField(name, label string) *formField {
	f := s.textField(name, label, "", "")
	f.kind = fieldSecret
	f.in.EchoMode = textinput.EchoPassword
	f.in.EchoCharacter = '*'
	return f
}

func choiceField(name, label string, opts []option, sel string) *formField {
	f := &formField{name: name, label: label, kind: fieldChoice, opts: opts}
	for i, o := range opts {
		if o.value == sel {
			f.sel = i
		}
	}
	return f
}

func multiField(name, label string, opts []option, picked []string) *formField {
	f := &formField{name: name, label: label, kind: fieldMulti, opts: opts, picked: map[string]bool{}}
	for _, p := range picked {
		f.picked[p] = true
	}
	return f
}

// choiceOpts translates values with an i18n prefix ("purpose.").
func (s *session) choiceOpts(prefix string, values []string) []option {
	out := make([]option, len(values))
	for i, v := range values {
		out[i] = option{value: v, label: s.T(prefix + v)}
	}
	return out
}

func newForm(s *session, title string, fields ...*formField) *form {
	f := &form{s: s, title: title, fields: fields}
	f.focusField(0)
	return f
}

func (f *form) field(name string) *formField {
	for _, x := range f.fields {
		if x.name == name {
			return x
		}
	}
	return nil
}

// value is a text field's trimmed value, a choice's value, or the picked
// values of a multi field joined with commas.
func (f *form) value(name string) string {
	x := f.field(name)
	if x == nil {
		return ""
	}
	switch x.kind {
	case fieldChoice:
		if x.sel < len(x.opts) {
			return x.opts[x.sel].value
		}
		return ""
	case fieldMulti:
		return strings.Join(f.multi(name), ",")
	case fieldSecret:
		return x.in.Value() // a passphrase is taken as typed
	}
	return strings.TrimSpace(x.in.Value())
}

// multi lists the picked values in option order.
func (f *form) multi(name string) []string {
	x := f.field(name)
	if x == nil {
		return nil
	}
	var out []string
	for _, o := range x.opts {
		if x.picked[o.value] {
			out = append(out, o.value)
		}
	}
	return out
}

func (x *formField) visible() bool { return x.show == nil || x.show() }

func (f *form) visibleFields() []int {
	var out []int
	for i, x := range f.fields {
		if x.visible() {
			out = append(out, i)
		}
	}
	return out
}

func (f *form) focusField(i int) tea.Cmd {
	if len(f.fields) == 0 {
		return nil
	}
	for _, x := range f.fields {
		x.in.Blur()
	}
	f.focus = min(max(i, 0), len(f.fields)-1)
	if x := f.fields[f.focus]; x.kind == fieldText || x.kind == fieldSecret {
		return x.in.Focus()
	}
	return nil
}

// move goes to the next (or previous) visible field.
func (f *form) move(d int) tea.Cmd {
	vis := f.visibleFields()
	for j, i := range vis {
		if i == f.focus {
			n := j + d
			if n < 0 || n >= len(vis) {
				return nil
			}
			return f.focusField(vis[n])
		}
	}
	if len(vis) > 0 {
		return f.focusField(vis[0])
	}
	return nil
}

func (f *form) lastVisible() bool {
	vis := f.visibleFields()
	return len(vis) == 0 || vis[len(vis)-1] == f.focus
}

// formResult says what a key did to the form.
type formResult int

const (
	formEdit formResult = iota
	formSubmit
	formCancel
)

func (f *form) Update(msg tea.KeyMsg) (formResult, tea.Cmd) {
	if msg.Type == tea.KeyEsc {
		return formCancel, nil
	}
	if f.busy {
		return formEdit, nil
	}
	k := f.s.keys
	switch {
	case key.Matches(msg, k.Save):
		return formSubmit, nil
	case msg.Type == tea.KeyEnter:
		if f.lastVisible() {
			return formSubmit, nil
		}
		return formEdit, f.move(1)
	case key.Matches(msg, k.NextField):
		return formEdit, f.move(1)
	case key.Matches(msg, k.PrevField):
		return formEdit, f.move(-1)
	}
	if len(f.fields) == 0 {
		return formEdit, nil
	}
	x := f.fields[f.focus]
	var cmd tea.Cmd
	changed := true
	switch x.kind {
	case fieldChoice:
		switch msg.String() {
		case "left", "h":
			x.sel = (x.sel - 1 + len(x.opts)) % max(len(x.opts), 1)
		case "right", "l", " ":
			x.sel = (x.sel + 1) % max(len(x.opts), 1)
		default:
			changed = false
		}
	case fieldMulti:
		switch msg.String() {
		case "left", "h":
			x.sel = max(x.sel-1, 0)
			changed = false
		case "right", "l":
			x.sel = min(x.sel+1, max(len(x.opts)-1, 0))
			changed = false
		case " ", "x":
			if x.sel < len(x.opts) {
				v := x.opts[x.sel].value
				x.picked[v] = !x.picked[v]
			}
		default:
			changed = false
		}
	default:
		before := x.in.Value()
		x.in, cmd = x.in.Update(msg)
		changed = x.in.Value() != before
	}
	if changed {
		x.touched = true
		return formEdit, tea.Batch(cmd, f.check())
	}
	return formEdit, cmd
}

// check re-validates every field.
func (f *form) check() tea.Cmd {
	for _, x := range f.fields {
		x.err, x.warn = "", ""
	}
	if f.validate == nil {
		return nil
	}
	return f.validate(f)
}

// ok reports whether no visible field has an error; after a failed
// submit the focus goes to the first bad field.
func (f *form) ok() bool {
	f.tried = true
	f.check()
	for _, i := range f.visibleFields() {
		if f.fields[i].err != "" {
			f.focusField(i)
			return false
		}
	}
	return true
}

// setErr puts a core error next to the field it names. It reports
// whether a field took it (else it belongs on the status line).
func (f *form) setErr(err error) bool {
	var fe *core.FieldError
	if !errors.As(err, &fe) {
		return false
	}
	names := []string{fe.Field}
	switch fe.Field { // core's names for fields a form shows differently
	case "found":
		names = append(names, "outcome")
	case "from":
		names = append(names, "to")
	}
	for _, n := range names {
		if x := f.field(n); x != nil && x.visible() {
			x.err, x.touched = fe.Reason, true
			f.tried = true
			f.focusField(f.indexOf(x))
			return true
		}
	}
	return false
}

func (f *form) indexOf(x *formField) int {
	for i, y := range f.fields {
		if y == x {
			return i
		}
	}
	return 0
}

// required marks an empty, visible text field.
func (f *form) required(names ...string) {
	for _, n := range names {
		if x := f.field(n); x != nil && x.visible() && f.value(n) == "" && x.err == "" {
			x.err = f.s.T("form.required")
		}
	}
}

// timeLayouts are accepted for every date/time field, in the session's
// location.
var timeLayouts = []string{"2006-01-02 15:04", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02"}

// parseLocal reads a local date/time typed by the user.
func (s *session) parseLocal(v string) (time.Time, bool) {
	v = strings.TrimSpace(v)
	for _, l := range timeLayouts {
		if t, err := time.ParseInLocation(l, v, s.c.Location); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// timeOf parses a date/time field, marking it when it does not parse.
func (f *form) timeOf(name string) (time.Time, bool) {
	x := f.field(name)
	if x == nil || !x.visible() {
		return time.Time{}, false
	}
	v := f.value(name)
	if v == "" {
		return time.Time{}, false
	}
	t, ok := f.s.parseLocal(v)
	if !ok && x.err == "" {
		x.err = f.s.T("form.baddate")
	}
	return t, ok
}

// View lays the form out in exactly w×h cells.
func (f *form) View(w, h int) string {
	s, st := f.s, f.s.st
	lines := []string{st.Title.Render(trunc(f.title, w))}
	lines = append(lines, f.head...)
	labelW := 18
	msgW := max(w*3/10, 12)
	ctlW := max(w-2-labelW-1-1-msgW, 8)
	vis := f.visibleFields()
	bodyH := max(h-len(lines)-1-len(f.foot)-1, 1)
	// Keep the focused field on screen.
	pos := 0
	for j, i := range vis {
		if i == f.focus {
			pos = j
		}
	}
	if pos < f.offset {
		f.offset = pos
	}
	if pos >= f.offset+bodyH {
		f.offset = pos - bodyH + 1
	}
	f.offset = min(f.offset, max(len(vis)-bodyH, 0))
	for j := f.offset; j < len(vis) && j < f.offset+bodyH; j++ {
		x := f.fields[vis[j]]
		mark := "  "
		if vis[j] == f.focus {
			mark = st.Input.Render("> ")
		}
		msg := ""
		switch {
		case x.err != "" && (x.touched || f.tried):
			msg = st.Error.Render(trunc("! "+x.err, msgW))
		case x.warn != "":
			msg = st.Warn.Render(trunc("! "+x.warn, msgW))
		}
		lines = append(lines, mark+fit(st.Label.Render(trunc(s.T(x.label), labelW)), labelW)+" "+
			fit(f.control(x, vis[j] == f.focus, ctlW), ctlW)+" "+msg)
	}
	for len(lines) < h-len(f.foot)-1 {
		lines = append(lines, "")
	}
	lines = append(lines, f.foot...)
	lines = append(lines, st.Dim.Render(f.hint()))
	return block(strings.Join(lines, "\n"), w, h)
}

func (f *form) control(x *formField, focused bool, w int) string {
	switch x.kind {
	case fieldChoice:
		label := ""
		if x.sel < len(x.opts) {
			label = x.opts[x.sel].label
		}
		if focused {
			return f.s.st.Input.Render("< " + label + " >")
		}
		return label
	case fieldMulti:
		v := strings.Join(f.multi(x.name), ",")
		if v == "" {
			v = "-"
		}
		if focused && x.sel < len(x.opts) {
			box := "[ ]"
			if x.picked[x.opts[x.sel].value] {
				box = "[x]"
			}
			cur := f.s.st.Input.Render("< " + box + " " + x.opts[x.sel].label + " >")
			return trunc(v, max(w-width(cur)-1, 3)) + " " + cur
		}
		return v
	}
	x.in.Width = max(w-1, 1)
	return x.in.View()
}

// hint is the key line for the focused field, plus its full message.
func (f *form) hint() string {
	s := f.s
	if f.busy {
		return s.T("form.busy")
	}
	h := s.T("form.keys")
	if len(f.fields) > 0 {
		x := f.fields[f.focus]
		switch x.kind {
		case fieldChoice:
			h = s.T("form.keys.choice") + "  " + h
		case fieldMulti:
			h = s.T("form.keys.multi") + "  " + h
		}
		if x.err != "" && (x.touched || f.tried) {
			h = s.T(x.label) + ": " + x.err + "  |  " + h
		} else if x.warn != "" {
			h = s.T(x.label) + ": " + x.warn + "  |  " + h
		}
	}
	return h
}
