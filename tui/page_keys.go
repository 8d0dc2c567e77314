package tui

import (
	"fmt"
	"slices"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"mimamori/core"
)

// keysPage: enrolled keys and refused attempts (manager). A refused key
// is enrolled with one keystroke (e), then a role and a name.
type keysPage struct {
	s       *session
	keys    *listTable
	refused *listTable
	focus   int // 0 enrolled, 1 refused
	w, h    int

	mode    keysMode
	pending keysPending
	input   textinput.Model
}

type keysMode int

const (
	modeList keysMode = iota
	modePaste
	modeRole
	modeName
	modeTitle   // 職名
	modeSection // 所属
	modePledge  // the confidentiality pledge, shown and accepted (000 §11, 001 §3(5))
	modeRevokeReason
	modeRevokeConfirm
	modeHandoverReason  // the manager hands the role to the selected key (000 §5-2)
	modeHandoverConfirm // ...and their own key is revoked in the same act
)

// keysPending is the action being put together in the dialog.
type keysPending struct {
	change      bool // role change of an enrolled key (else enrolment)
	fingerprint string
	name        string
	authorized  string
	role        core.Role
	reason      string
	title       string
	section     string
	// profile: 職名/所属 of an enrolled key are being corrected (staff
	// set); pledgeOnly: an enrolled key's holder accepts the pledge
	// (staff pledge). Otherwise the dialog enrols a key.
	profile    bool
	pledgeOnly bool
}

// dialogH is the dialog's height: the pledge needs room for its text.
func (p *keysPage) dialogH() int {
	switch p.mode {
	case modePledge:
		return 7
	case modeHandoverConfirm:
		return 4 // the consequences take two lines
	}
	return 3
}

func keysSpecs() []colSpec {
	return []colSpec{
		{title: "col.keyname", min: 10, max: 24, flex: 2, prio: 10},
		{title: "col.role", min: 10, prio: 9},
		{title: "col.jobtitle", min: 8, max: 20, flex: 1, prio: 6},
		{title: "col.section", min: 8, max: 20, flex: 1, prio: 5},
		{title: "col.pledge", min: 10, prio: 6},
		{title: "col.keytype", min: 11, prio: 1},
		{title: "col.fingerprint", min: 16, max: 50, flex: 3, prio: 8},
		{title: "col.enrolled", min: 16, prio: 4},
		{title: "col.by", min: 8, max: 16, flex: 1, prio: 2},
		{title: "col.keystate", min: 8, prio: 7},
	}
}

func refusedSpecs() []colSpec {
	return []colSpec{
		{title: "col.fingerprint", min: 16, max: 50, flex: 3, prio: 10},
		{title: "col.keytype", min: 11, prio: 4},
		{title: "col.address", min: 15, max: 40, flex: 1, prio: 8},
		{title: "col.first", min: 11, prio: 3},
		{title: "col.last", min: 11, prio: 9},
		{title: "col.count", min: 5, prio: 7, right: true},
	}
}

func newKeysPage(s *session) *keysPage {
	p := &keysPage{s: s, keys: newListTable(s, keysSpecs()), refused: newListTable(s, refusedSpecs())}
	p.refused.Blur()
	p.input = newInput(s, "> ", 8192)
	return p
}

func (p *keysPage) SetSize(w, h int) {
	p.w, p.h = w, h
	p.input.Width = max(w-4, 1)
	p.keys.specs = titled(p.s, keysSpecs())
	p.refused.specs = titled(p.s, refusedSpecs())
	p.layoutTables()
	p.rebuild()
}

// layoutTables splits the height between the two lists (and the dialog).
func (p *keysPage) layoutTables() {
	avail := p.h - 2 // two section titles
	if p.mode != modeList {
		avail -= p.dialogH()
	}
	kh := max(avail*3/5, 2)
	rh := max(avail-kh, 2)
	p.keys.SetSize(p.w, kh)
	p.refused.SetSize(p.w, rh)
}

func (p *keysPage) Capturing() bool { return p.mode != modeList }

func (p *keysPage) setMode(m keysMode) tea.Cmd {
	was := p.mode
	p.mode = m
	if (was == modeList) != (m == modeList) || was == modePledge || m == modePledge ||
		was == modeHandoverConfirm || m == modeHandoverConfirm {
		p.layoutTables()
	}
	switch m {
	case modePaste, modeName, modeTitle, modeSection, modeRevokeReason, modeHandoverReason:
		p.input.SetValue("")
		switch m {
		case modePaste:
			p.input.Placeholder = "ssh-ed25519 AAAA… name@host"
		case modeName:
			p.input.Placeholder = p.s.T("keys.name.ph")
		case modeTitle:
			p.input.Placeholder = p.s.T("keys.title.ph")
		case modeSection:
			p.input.Placeholder = p.s.T("keys.section.ph")
		}
		// Correcting a record starts from what is on file.
		switch {
		case m == modeTitle && p.pending.profile:
			p.input.SetValue(p.pending.title)
		case m == modeSection && p.pending.profile:
			p.input.SetValue(p.pending.section)
		}
		switch m {
		case modePaste, modeName, modeTitle, modeSection:
		default:
			p.input.Placeholder = p.s.T("keys.reason.ph")
		}
		return p.input.Focus()
	}
	p.input.Blur()
	return nil
}

func (p *keysPage) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case keysMsg, refreshMsg:
		p.rebuild()
	case tea.KeyMsg:
		if p.mode != modeList {
			return p.dialogKey(msg)
		}
		return p.listKey(msg)
	}
	return nil
}

func (p *keysPage) listKey(msg tea.KeyMsg) tea.Cmd {
	k, d := p.s.keys, &p.s.data
	switch {
	case key.Matches(msg, k.Focus):
		p.focus = 1 - p.focus
		if p.focus == 0 {
			p.keys.Focus()
			p.refused.Blur()
		} else {
			p.refused.Focus()
			p.keys.Blur()
		}
		return nil
	case key.Matches(msg, k.Enroll):
		i := p.refused.Cursor()
		if p.focus != 1 || i < 0 || i >= len(d.refused) {
			return statusCmd(p.s.T("keys.pick.refused"), true)
		}
		r := d.refused[i]
		p.pending = keysPending{fingerprint: r.Fingerprint, authorized: r.AuthorizedKey}
		return p.setMode(modeRole)
	case key.Matches(msg, k.Paste):
		p.pending = keysPending{}
		return p.setMode(modePaste)
	case key.Matches(msg, k.Profile) && p.s.allowed(core.ActionKeyProfile),
		key.Matches(msg, k.Pledge) && p.s.allowed(core.ActionPledge),
		key.Matches(msg, k.Handover) && p.s.allowed(core.ActionKeyRoleChange):
		i := p.keys.Cursor()
		if p.focus != 0 || i < 0 || i >= len(d.keys) {
			return statusCmd(p.s.T("keys.pick.key"), true)
		}
		kk := d.keys[i]
		if !kk.Active(p.s.now()) {
			return statusCmd(p.s.T("keys.notactive"), true)
		}
		p.pending = keysPending{fingerprint: kk.Fingerprint, name: oneLine(kk.Name), role: kk.Role, title: kk.JobTitle, section: kk.Section}
		switch {
		case key.Matches(msg, k.Profile):
			p.pending.profile = true
			return p.setMode(modeTitle)
		case key.Matches(msg, k.Pledge):
			p.pending.pledgeOnly = true
			return p.setMode(modePledge)
		}
		return p.setMode(modeHandoverReason)
	case key.Matches(msg, k.Role), key.Matches(msg, k.Revoke):
		i := p.keys.Cursor()
		if p.focus != 0 || i < 0 || i >= len(d.keys) {
			return statusCmd(p.s.T("keys.pick.key"), true)
		}
		kk := d.keys[i]
		if !kk.RevokedAt.IsZero() {
			return statusCmd(p.s.T("keys.already"), true)
		}
		p.pending = keysPending{change: true, fingerprint: kk.Fingerprint, name: kk.Name, role: kk.Role}
		if key.Matches(msg, k.Role) {
			return p.setMode(modeRole)
		}
		return p.setMode(modeRevokeReason)
	}
	if p.focus == 0 {
		return p.keys.Update(msg)
	}
	return p.refused.Update(msg)
}

func statusCmd(text string, isErr bool) tea.Cmd {
	return func() tea.Msg { return statusMsg{text: text, err: isErr} }
}

// roleKey maps the dialog's keys to the roles a key can be enrolled with.
func roleKey(k string) (core.Role, bool) {
	switch k {
	case "m":
		return core.RoleManager, true
	case "o":
		return core.RoleOperator, true
	case "t":
		return core.RoleTechnician, true
	}
	return core.RoleNone, false
}

func (p *keysPage) dialogKey(msg tea.KeyMsg) tea.Cmd {
	s := p.s
	if msg.Type == tea.KeyEsc {
		p.pending = keysPending{}
		return tea.Batch(p.setMode(modeList), statusCmd(s.T("keys.cancelled"), false))
	}
	switch p.mode {
	case modeRole:
		r, ok := roleKey(msg.String())
		if !ok {
			return nil
		}
		p.pending.role = r
		if p.pending.change {
			pd := p.pending
			p.setMode(modeList)
			return s.changeKeyRole(pd.fingerprint, pd.name, pd.role)
		}
		return p.setMode(modeName)
	case modePledge:
		switch msg.String() {
		case "y", "Y":
			pd := p.pending
			p.setMode(modeList)
			if pd.pledgeOnly {
				return s.regWrite("keys", "keys.done.pledge", pd.name, func(b Backend, a core.Actor) error {
					_, err := b.RecordPledge(a, pd.fingerprint)
					return err
				})
			}
			return s.enrollPerson(core.Enrolment{Name: pd.name, Role: pd.role, AuthorizedKey: pd.authorized,
				JobTitle: pd.title, Section: pd.section, Pledged: true})
		case "n", "N":
			p.pending = keysPending{}
			return tea.Batch(p.setMode(modeList), statusCmd(s.T("keys.nopledge"), true))
		}
		return nil
	case modeHandoverConfirm:
		switch msg.String() {
		case "y", "Y":
			pd := p.pending
			p.setMode(modeList)
			return s.regWrite("keys", "keys.done.handover", pd.name, func(b Backend, a core.Actor) error {
				_, err := b.HandOverManager(a, pd.fingerprint, pd.reason)
				return err
			})
		case "n", "N":
			p.pending = keysPending{}
			return tea.Batch(p.setMode(modeList), statusCmd(s.T("keys.cancelled"), false))
		}
		return nil
	case modeRevokeConfirm:
		switch msg.String() {
		case "y", "Y":
			pd := p.pending
			p.setMode(modeList)
			return s.revokeKey(pd.fingerprint, pd.name, pd.reason)
		case "n", "N":
			p.pending = keysPending{}
			return tea.Batch(p.setMode(modeList), statusCmd(s.T("keys.cancelled"), false))
		}
		return nil
	}
	if msg.Type == tea.KeyEnter {
		v := strings.TrimSpace(p.input.Value())
		if v == "" {
			return nil
		}
		switch p.mode {
		case modePaste:
			p.pending.authorized = v
			return p.setMode(modeRole)
		case modeName:
			p.pending.name = v
			return p.setMode(modeTitle)
		case modeTitle:
			p.pending.title = v
			return p.setMode(modeSection)
		case modeSection:
			p.pending.section = v
			if p.pending.profile {
				pd := p.pending
				p.setMode(modeList)
				return s.regWrite("keys", "keys.done.profile", pd.name, func(b Backend, a core.Actor) error {
					_, err := b.SetKeyProfile(a, pd.fingerprint, pd.title, pd.section)
					return err
				})
			}
			return p.setMode(modePledge)
		case modeHandoverReason:
			p.pending.reason = v
			return p.setMode(modeHandoverConfirm)
		case modeRevokeReason:
			p.pending.reason = v
			return p.setMode(modeRevokeConfirm)
		}
		return nil
	}
	var cmd tea.Cmd
	p.input, cmd = p.input.Update(msg)
	return cmd
}

func (p *keysPage) rebuild() {
	s, d := p.s, &p.s.data
	now := s.now()
	rows := make([][]string, 0, len(d.keys))
	for _, k := range d.keys {
		state := s.T("key.active")
		switch {
		case !k.RevokedAt.IsZero():
			state = s.T("key.revoked")
		case !k.Active(now):
			state = s.T("key.expired")
		}
		pledge := s.T("keys.nopledge.short")
		if k.Pledge != nil {
			pledge = s.fmtDate(k.Pledge.At)
			if pl, ok := s.policy(); ok && slices.Contains(pl.PersonGaps(k), "pledge-outdated") {
				pledge = s.T("keys.pledge.outdated")
			}
		}
		if k.Role == core.RoleViewer {
			pledge = "-"
		}
		rows = append(rows, []string{k.Name, s.roleName(k.Role), dashIf(k.JobTitle), dashIf(k.Section), pledge, k.Type, k.Fingerprint,
			s.fmtDateTime(k.EnrolledAt), k.EnrolledBy, state})
	}
	p.keys.SetRows(rows)
	rows = make([][]string, 0, len(d.refused))
	for _, r := range d.refused {
		rows = append(rows, []string{r.Fingerprint, r.KeyType, r.RemoteAddr,
			s.fmtShort(r.FirstSeen), s.fmtShort(r.LastSeen), fmt.Sprint(r.Count)})
	}
	p.refused.SetRows(rows)
}

func (p *keysPage) View() string {
	s, d, st := p.s, &p.s.data, p.s.st
	if !d.keysLoaded {
		msg := s.T("loading")
		if d.keysErr != nil {
			msg = s.errText(d.keysErr)
		}
		return block("\n  "+msg, p.w, p.h)
	}
	title := func(k string, n int, focused bool) string {
		t := fmt.Sprintf("%s (%d)", s.T(k), n)
		if focused {
			return st.Title.Render("* " + t)
		}
		return st.Dim.Render("  " + t)
	}
	parts := []string{
		fit(title("keys.enrolled", len(d.keys), p.focus == 0), p.w),
		p.keys.View(),
		fit(title("keys.refused", len(d.refused), p.focus == 1), p.w),
		p.refused.View(),
	}
	if p.mode != modeList {
		parts = append(parts, p.dialogView())
	}
	return block(strings.Join(parts, "\n"), p.w, p.h)
}

func (p *keysPage) dialogView() string {
	s, st, pd := p.s, p.s.st, p.pending
	who := pd.name
	if who == "" {
		who = pd.fingerprint
	}
	var l1, l2 string
	switch p.mode {
	case modePaste:
		l1, l2 = s.T("keys.paste"), p.input.View()
	case modeRole:
		l1 = fmt.Sprintf(s.T("keys.role.for"), trunc(who, 50))
		l2 = fmt.Sprintf("[m] %s  [o] %s  [t] %s   esc %s",
			s.roleName(core.RoleManager), s.roleName(core.RoleOperator), s.roleName(core.RoleTechnician), s.T("key.cancel"))
	case modeName:
		l1, l2 = fmt.Sprintf(s.T("keys.name.for"), s.roleName(pd.role), trunc(pd.fingerprint, 50)), p.input.View()
	case modeTitle:
		l1, l2 = fmt.Sprintf(s.T("keys.title.for"), pd.name), p.input.View()
		if pd.profile {
			l1 = fmt.Sprintf(s.T("keys.profile.for"), pd.name) + " " + l1
		}
	case modeSection:
		l1, l2 = fmt.Sprintf(s.T("keys.section.for"), pd.name), p.input.View()
	case modePledge:
		pl, _ := s.policy()
		text := pl.Pledge.Text
		if text == "" {
			text = s.T("keys.pledge.generic")
		}
		head := st.Title.Render(fmt.Sprintf(s.T("keys.pledge.for"), pd.name, pl.Regulation+" "+pl.Pledge.Cite))
		body := wrapCells(text, p.w-2, 4)
		yes := "keys.pledge.yes"
		if pd.pledgeOnly {
			yes = "keys.pledge.record"
		}
		tail := "[y] " + s.T(yes) + "  [n] " + s.T("key.cancel")
		return block(strings.Repeat("-", p.w)+"\n"+head+"\n"+body+"\n"+tail, p.w, p.dialogH())
	case modeRevokeReason:
		l1, l2 = fmt.Sprintf(s.T("keys.revoke.reason"), who), p.input.View()
	case modeHandoverReason:
		l1, l2 = fmt.Sprintf(s.T("keys.handover.reason"), s.roleName(core.RoleManager), who), p.input.View()
	case modeHandoverConfirm:
		warn := wrapCells(fmt.Sprintf(s.T("keys.handover.confirm"), s.roleName(core.RoleManager), who, s.c.Actor.Name), p.w, 2)
		var ls []string
		for _, l := range strings.Split(warn, "\n") {
			ls = append(ls, st.Bad.Render(l))
		}
		l2 = s.T("keys.reason") + ": " + oneLine(pd.reason) + "   [y] " + s.T("key.confirm") + "  [n] " + s.T("key.cancel")
		return block(strings.Repeat("-", p.w)+"\n"+strings.Join(ls, "\n")+"\n"+l2, p.w, p.dialogH())
	case modeRevokeConfirm:
		l1 = st.Bad.Render(fmt.Sprintf(s.T("keys.revoke.confirm"), who, pd.fingerprint))
		l2 = s.T("keys.reason") + ": " + oneLine(pd.reason) + "   [y] " + s.T("key.confirm") + "  [n] " + s.T("key.cancel")
	}
	return block(strings.Repeat("-", p.w)+"\n"+st.Title.Render(l1)+"\n"+l2, p.w, p.dialogH())
}

func (p *keysPage) ShortHelp() []key.Binding {
	k := p.s.keys
	if p.mode != modeList {
		return []key.Binding{k.Submit, k.Cancel}
	}
	if p.focus == 1 {
		return []key.Binding{k.Focus, k.Enroll, k.Paste}
	}
	out := []key.Binding{k.Focus, k.Role, k.Revoke, k.Paste}
	for _, x := range []struct {
		b key.Binding
		a core.Action
	}{{k.Profile, core.ActionKeyProfile}, {k.Pledge, core.ActionPledge}, {k.Handover, core.ActionKeyRoleChange}} {
		if p.s.allowed(x.a) {
			out = append(out, x.b)
		}
	}
	return out
}

func (p *keysPage) FullHelp() [][]key.Binding {
	k := p.s.keys
	return [][]key.Binding{{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom}, {k.Focus, k.Enroll, k.Paste, k.Role, k.Revoke},
		{k.Profile, k.Pledge, k.Handover}}
}

// noLineStart are the characters a Japanese line may not start with.
const noLineStart = "。、，．）」』】〕〉》・ー！？!?：；:;,.)"

func lastRune(rs []rune, r rune) int {
	for i := len(rs) - 1; i >= 0; i-- {
		if rs[i] == r {
			return i
		}
	}
	return -1
}

func dashIf(v string) string {
	if v == "" {
		return "-"
	}
	return v
}

// wrapCells wraps text to w terminal cells (kanji count two), at most n
// lines; the last shows "…" if cut. English breaks between words, and a
// Japanese line never starts with closing punctuation (。、」…): the
// character before it moves down with it.
func wrapCells(text string, w, n int) string {
	w = max(w, 10)
	var lines []string
	rs := []rune(text)
	for len(rs) > 0 {
		i, cw := 0, 0
		for i < len(rs) {
			rw := ansi.StringWidth(string(rs[i]))
			if cw+rw > w {
				break
			}
			cw += rw
			i++
		}
		next := i
		if i < len(rs) && rs[i] != ' ' {
			if j := lastRune(rs[:i], ' '); j > i/2 {
				i, next = j, j+1 // between words
			} else {
				for i > 1 && strings.ContainsRune(noLineStart, rs[i]) {
					i-- // kinsoku: keep the punctuation with its word
				}
				next = i
			}
		}
		lines = append(lines, strings.TrimRight(string(rs[:i]), " "))
		rs = rs[next:]
		for len(rs) > 0 && rs[0] == ' ' {
			rs = rs[1:]
		}
	}
	if len(lines) > n {
		lines = lines[:n]
		lines[n-1] = trunc(lines[n-1], w-1) + "…"
	}
	for len(lines) < n {
		lines = append(lines, "")
	}
	return strings.Join(lines, "\n")
}
