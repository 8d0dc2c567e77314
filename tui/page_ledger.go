package tui

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"mimamori/core"
)

// ledgerPage lists ledger entries, newest first, with the chain status on
// top and a "/" filter (action:, actor:, date:, free text).
type ledgerPage struct {
	s      *session
	tbl    *listTable
	w, h   int
	input  textinput.Model
	typing bool
	filter string
	shown  int // entries matching the filter
}

// maxLedgerRows bounds the rows handed to the table; a filter narrows.
const maxLedgerRows = 5000

const ledgerHeadH = 2

func ledgerSpecs() []colSpec {
	return []colSpec{
		{title: "col.seq", min: 6, prio: 10, right: true},
		{title: "col.time", min: 16, prio: 9},
		{title: "col.actor", min: 8, max: 20, flex: 1, prio: 8},
		{title: "col.action", min: 16, max: 22, flex: 1, prio: 10},
		{title: "col.subject", min: 10, max: 30, flex: 1, prio: 6},
		{title: "col.details", min: 10, flex: 4, prio: 4},
	}
}

func newLedgerPage(s *session) *ledgerPage {
	p := &ledgerPage{s: s, tbl: newListTable(s, ledgerSpecs())}
	p.input = newInput(s, "/ ", 200)
	return p
}

func (p *ledgerPage) SetSize(w, h int) {
	p.w, p.h = w, h
	p.input.Width = max(w-4, 1)
	p.input.Placeholder = p.s.T("ledger.placeholder")
	p.tbl.specs = titled(p.s, ledgerSpecs())
	p.tbl.SetSize(w, max(h-ledgerHeadH, 2))
	p.rebuild()
}

func (p *ledgerPage) Capturing() bool { return p.typing }

func (p *ledgerPage) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case ledgerMsg, refreshMsg:
		p.rebuild()
	case tea.KeyMsg:
		k := p.s.keys
		if p.typing {
			switch msg.Type {
			case tea.KeyEnter:
				p.typing = false
				p.input.Blur()
				p.filter = strings.TrimSpace(p.input.Value())
				p.tbl.SetCursor(0)
				p.rebuild()
				return nil
			case tea.KeyEsc:
				p.typing = false
				p.input.Blur()
				p.input.SetValue(p.filter)
				return nil
			}
			var cmd tea.Cmd
			p.input, cmd = p.input.Update(msg)
			return cmd
		}
		switch {
		case key.Matches(msg, k.Filter):
			p.typing = true
			p.input.SetValue(p.filter)
			p.input.CursorEnd()
			return p.input.Focus()
		case key.Matches(msg, k.Back) && p.filter != "":
			p.filter = ""
			p.input.SetValue("")
			p.rebuild()
			return nil
		}
		return p.tbl.Update(msg)
	}
	return nil
}

// ledgerFilter is the parsed "/" query.
type ledgerFilter struct {
	action, actor []string
	from, to      time.Time // local days, [from, to)
	text          []string
}

func (p *ledgerPage) parseFilter(q string) ledgerFilter {
	var f ledgerFilter
	loc := p.s.c.Location
	for _, tok := range strings.Fields(strings.ToLower(q)) {
		switch {
		case strings.HasPrefix(tok, "action:"):
			f.action = append(f.action, strings.TrimPrefix(tok, "action:"))
		case strings.HasPrefix(tok, "actor:"):
			f.actor = append(f.actor, strings.TrimPrefix(tok, "actor:"))
		case strings.HasPrefix(tok, "date:"):
			v := strings.TrimPrefix(tok, "date:")
			a, b, ok := strings.Cut(v, "..")
			if !ok {
				b = a
			}
			if t, err := time.ParseInLocation("2006-01-02", a, loc); err == nil {
				f.from = t
			}
			if t, err := time.ParseInLocation("2006-01-02", b, loc); err == nil {
				f.to = t.AddDate(0, 0, 1)
			}
		default:
			f.text = append(f.text, tok)
		}
	}
	return f
}

func (f *ledgerFilter) match(e *core.Entry, details string) bool {
	for _, a := range f.action {
		if !strings.HasPrefix(string(e.Action), a) {
			return false
		}
	}
	for _, a := range f.actor {
		if !strings.Contains(strings.ToLower(e.Actor.Name), a) && !strings.Contains(strings.ToLower(e.Actor.Fingerprint), a) {
			return false
		}
	}
	if !f.from.IsZero() && e.Time.Before(f.from) {
		return false
	}
	if !f.to.IsZero() && !e.Time.Before(f.to) {
		return false
	}
	if len(f.text) > 0 {
		hay := strings.ToLower(string(e.Action) + " " + core.ActionLabel(e.Action, "ja") + " " + core.ActionLabel(e.Action, "en") +
			" " + e.Actor.Name + " " + e.Subject + " " + details)
		for _, t := range f.text {
			if !strings.Contains(hay, t) {
				return false
			}
		}
	}
	return true
}

func detailsText(m map[string]string, lang string) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(core.DetailText(k, m[k], lang))
	}
	return b.String()
}

func (p *ledgerPage) rebuild() {
	s := p.s
	f := p.parseFilter(p.filter)
	all := s.data.ledger
	rows := make([][]string, 0, min(len(all), maxLedgerRows))
	p.shown = 0
	for i := len(all) - 1; i >= 0; i-- {
		e := &all[i]
		det := detailsText(e.Details, s.lang)
		if !f.match(e, det) {
			continue
		}
		p.shown++
		if len(rows) >= maxLedgerRows {
			continue
		}
		actor := e.Actor.Name
		if actor == "" {
			actor = e.Actor.Fingerprint
		}
		rows = append(rows, []string{
			fmt.Sprint(e.Seq), s.fmtDateTime(e.Time), actor, core.ActionLabel(e.Action, s.lang), e.Subject, det,
		})
	}
	p.tbl.SetRows(rows)
}

func (p *ledgerPage) View() string {
	s, d, st := p.s, &p.s.data, p.s.st
	var head []string
	switch {
	case !s.allowed(core.ActionLedgerVerify):
		head = append(head, st.Dim.Render(s.T("ledger.own")))
	case d.verifyErr != nil:
		head = append(head, st.Warn.Render(s.T("hdr.chain")+": "+s.errText(d.verifyErr)))
	case !d.verifyLoaded:
		head = append(head, st.Dim.Render(s.T("hdr.chain")+": "+s.T("chain.checking")))
	case d.verify.OK:
		head = append(head, st.OK.Render(s.T("hdr.chain")+": "+s.T("chain.ok"))+"  "+
			st.Dim.Render(fmt.Sprintf(s.T("ledger.checked"), d.verify.Entries)))
	default:
		head = append(head, st.Bad.Render(s.T("hdr.chain")+": "+fmt.Sprintf(s.T("chain.broken"), d.verify.BrokenSeq))+
			"  "+st.Error.Render(oneLine(d.verify.Problem)))
	}
	switch {
	case p.typing:
		head = append(head, p.input.View())
	case p.filter != "":
		head = append(head, st.Input.Render("/ "+p.filter)+"  "+
			st.Dim.Render(fmt.Sprintf(s.T("ledger.matches"), p.shown, len(d.ledger))))
	default:
		head = append(head, st.Dim.Render(fmt.Sprintf(s.T("ledger.count"), len(d.ledger))+"  "+s.T("ledger.hint")))
	}
	top := block(strings.Join(head, "\n"), p.w, ledgerHeadH)
	if !d.ledgerLoaded {
		msg := s.T("loading")
		if d.ledgerErr != nil {
			msg = s.errText(d.ledgerErr)
		}
		return top + "\n" + block("\n  "+msg, p.w, p.h-ledgerHeadH)
	}
	return top + "\n" + p.tbl.View()
}

func (p *ledgerPage) ShortHelp() []key.Binding {
	k := p.s.keys
	if p.typing {
		return []key.Binding{k.Submit, k.Cancel}
	}
	return []key.Binding{k.Up, k.Down, k.Filter}
}

func (p *ledgerPage) FullHelp() [][]key.Binding {
	k := p.s.keys
	return [][]key.Binding{{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom}, {k.Filter, k.Back}}
}
