package tui

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"mimamori/core"
)

// ledgerPage shows one page of the ledger read from the database, newest
// first: people's acts by default, machine records on request (m), with
// the chain status and the current signed checkpoint on top and a "/"
// filter (action:, actor:, date:, free text) that core applies while it
// reads. ] and [ (or page down past the last row / page up past the
// first) go to the older and newer page; V verifies the whole ledger.
type ledgerPage struct {
	s      *session
	tbl    *listTable
	w, h   int
	input  textinput.Model
	typing bool
	newer  []uint64 // the views' befores above this page, to go back
	verify *verifyRun
}

// ledgerView is which page the ledger tab shows. Comparable: a page read
// for another view is dropped.
type ledgerView struct {
	before uint64 // 0 = the newest page
	show   core.LedgerShow
	filter string
}

// ledgerPageRows is one page: a few screens, never the ledger.
const ledgerPageRows = 200

const ledgerHeadH = 3

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

// show switches to view v and reads its page.
func (p *ledgerPage) show(v ledgerView) tea.Cmd {
	p.s.data.ledgerView = v
	p.s.data.ledgerLoaded = false
	p.tbl.SetCursor(0)
	p.rebuild()
	return func() tea.Msg { return wantLoadMsg(loadLedger) }
}

func (p *ledgerPage) Update(msg tea.Msg) tea.Cmd {
	v := p.s.data.ledgerView
	switch msg := msg.(type) {
	case ledgerMsg, refreshMsg:
		p.rebuild()
	case verifyProgressMsg:
		if msg.run == p.verify {
			return waitVerify(msg.run)
		}
	case verifyDoneMsg:
		if msg.run == p.verify {
			p.verify = nil
			d := &p.s.data
			if msg.err == nil {
				d.verify, d.verifyLoaded, d.verifyErr = msg.report, true, nil
			}
			return func() tea.Msg { return verifyResultStatus(p.s, msg) }
		}
	case tea.KeyMsg:
		k := p.s.keys
		if p.typing {
			switch msg.Type {
			case tea.KeyEnter:
				p.typing = false
				p.input.Blur()
				p.newer = nil
				return p.show(ledgerView{show: v.show, filter: strings.TrimSpace(p.input.Value())})
			case tea.KeyEsc:
				p.typing = false
				p.input.Blur()
				p.input.SetValue(v.filter)
				return nil
			}
			var cmd tea.Cmd
			p.input, cmd = p.input.Update(msg)
			return cmd
		}
		last := len(p.s.data.ledger.Entries) - 1
		switch {
		case key.Matches(msg, k.Filter):
			p.typing = true
			p.input.SetValue(v.filter)
			p.input.CursorEnd()
			return p.input.Focus()
		case key.Matches(msg, k.Back) && v.filter != "":
			p.input.SetValue("")
			p.newer = nil
			return p.show(ledgerView{show: v.show})
		case key.Matches(msg, k.Classes):
			p.newer = nil
			next := map[core.LedgerShow]core.LedgerShow{core.ShowPeople: core.ShowAll, core.ShowAll: core.ShowMachine, core.ShowMachine: core.ShowPeople}
			return p.show(ledgerView{show: next[v.show], filter: v.filter})
		case key.Matches(msg, k.Older) || (key.Matches(msg, k.PageDown) && p.tbl.t.Cursor() >= last):
			if next := p.s.data.ledger.Next; next != 0 && p.s.data.ledgerLoaded {
				p.newer = append(p.newer, v.before)
				return p.show(ledgerView{before: next, show: v.show, filter: v.filter})
			}
		case key.Matches(msg, k.Newer) || (key.Matches(msg, k.PageUp) && p.tbl.t.Cursor() == 0 && len(p.newer) > 0):
			if n := len(p.newer); n > 0 {
				before := p.newer[n-1]
				p.newer = p.newer[:n-1]
				return p.show(ledgerView{before: before, show: v.show, filter: v.filter})
			}
		case key.Matches(msg, k.VerifyAll) && p.s.allowed(core.ActionLedgerVerify) && p.verify == nil:
			if lb, ok := p.s.c.Core.(ledgerBackend); ok {
				var cmd tea.Cmd
				p.verify, cmd = startVerify(p.s.c.Ctx, lb, p.s.c.Actor)
				return cmd
			}
		}
		return p.tbl.Update(msg)
	}
	return nil
}

// ledgerFilter is the parsed "/" query; core applies it while reading.
type ledgerFilter struct {
	lang          string // details are matched as shown
	action, actor []string
	from, to      time.Time // local days, [from, to)
	text          []string
}

func parseLedgerFilter(q string, loc *time.Location, lang string) ledgerFilter {
	f := ledgerFilter{lang: lang}
	if loc == nil {
		loc = time.Local
	}
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

func (f *ledgerFilter) match(e *core.Entry) bool {
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
			" " + e.Actor.Name + " " + e.Subject + " " + detailsText(e.Details, f.lang))
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
	es := s.data.ledger.Entries
	rows := make([][]string, 0, len(es))
	for i := range es {
		e := &es[i]
		actor := e.Actor.Name
		if actor == "" {
			actor = e.Actor.Fingerprint
		}
		rows = append(rows, []string{
			fmt.Sprint(e.Seq), s.fmtDateTime(e.Time), actor, core.ActionLabel(e.Action, s.lang), e.Subject, detailsText(e.Details, s.lang),
		})
	}
	p.tbl.SetRows(rows)
}

func (p *ledgerPage) View() string {
	s, d, st := p.s, &p.s.data, p.s.st
	v := d.ledgerView
	var head []string
	switch {
	case !s.allowed(core.ActionLedgerVerify):
		head = append(head, st.Dim.Render(s.T("ledger.own")))
	case p.verify != nil:
		head = append(head, st.Dim.Render(s.T("hdr.chain")+": "+fmt.Sprintf(s.T("ledger.verifying"), p.verify.done, p.verify.total)+
			pct(p.verify.done, p.verify.total)))
	case d.verifyErr != nil:
		head = append(head, st.Warn.Render(s.T("hdr.chain")+": "+s.errText(d.verifyErr)))
	case !d.verifyLoaded:
		head = append(head, st.Dim.Render(s.T("hdr.chain")+": "+s.T("chain.checking")))
	case d.verify.Pending:
		head = append(head, st.Dim.Render(s.T("hdr.chain")+": "+s.T("chain.checking")+pct(d.verify.Done, d.verify.Total)))
	case d.verify.OK:
		head = append(head, st.OK.Render(s.T("hdr.chain")+": "+s.T("chain.ok"))+"  "+
			st.Dim.Render(fmt.Sprintf(s.T("ledger.checked"), d.verify.Entries)+"  "+s.T("ledger.verifyhint")))
	default:
		head = append(head, st.Bad.Render(s.T("hdr.chain")+": "+fmt.Sprintf(s.T("chain.broken"), d.verify.BrokenSeq))+
			"  "+st.Error.Render(oneLine(d.verify.Problem)))
	}
	if cp := d.checkpoint; cp != nil {
		head = append(head, st.Dim.Render(fmt.Sprintf(s.T("ledger.checkpoint"), cp.Size, cp.ShortRoot(), cp.Fingerprint)))
	} else {
		head = append(head, "")
	}
	classes := s.T("ledger.show." + v.show.String())
	var where string
	if v.before != 0 {
		where = "  " + fmt.Sprintf(s.T("ledger.older"), v.before-1)
	}
	switch {
	case p.typing:
		head = append(head, p.input.View())
	case v.filter != "":
		head = append(head, st.Input.Render("/ "+v.filter)+"  "+
			st.Dim.Render(classes+where+"  "+fmt.Sprintf(s.T("ledger.matches"), len(d.ledger.Entries), d.ledger.Total)))
	default:
		head = append(head, st.Dim.Render(classes+where+"  "+fmt.Sprintf(s.T("ledger.count"), d.ledger.Total)+"  "+s.T("ledger.hint")))
	}
	top := block(strings.Join(head, "\n"), p.w, ledgerHeadH)
	if !d.ledgerLoaded {
		msg := s.T("loading")
		if d.ledgerErr != nil {
			msg = s.errText(d.ledgerErr)
		}
		return top + "\n" + block("\n  "+msg, p.w, p.h-ledgerHeadH)
	}
	if len(d.ledger.Entries) == 0 {
		return top + "\n" + block("\n  "+st.Dim.Render(s.T("ledger.none")), p.w, p.h-ledgerHeadH)
	}
	return top + "\n" + p.tbl.View()
}

func (p *ledgerPage) ShortHelp() []key.Binding {
	k := p.s.keys
	if p.typing {
		return []key.Binding{k.Submit, k.Cancel}
	}
	return []key.Binding{k.Up, k.Down, k.Filter, k.Classes, k.Older, k.Newer}
}

func (p *ledgerPage) FullHelp() [][]key.Binding {
	k := p.s.keys
	return [][]key.Binding{{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom}, {k.Filter, k.Back, k.Classes, k.Older, k.Newer, k.VerifyAll}}
}

// A full verification runs in one Cmd; its progress feeds a one-slot
// channel (latest wins) that a re-armed Cmd turns into messages, as for
// exports.

type verifyRun struct {
	prog        chan verifyProgressMsg
	finished    chan struct{}
	done, total uint64
}

type verifyProgressMsg struct {
	run         *verifyRun
	done, total uint64
}

type verifyDoneMsg struct {
	run    *verifyRun
	report core.VerifyReport
	err    error
}

func startVerify(ctx context.Context, b ledgerBackend, a core.Actor) (*verifyRun, tea.Cmd) {
	r := &verifyRun{prog: make(chan verifyProgressMsg, 1), finished: make(chan struct{})}
	work := func() tea.Msg {
		defer close(r.finished)
		rep, err := b.VerifyLedgerProgress(a, func(done, total uint64) {
			m := verifyProgressMsg{run: r, done: done, total: total}
			select {
			case <-r.prog:
			default:
			}
			select {
			case r.prog <- m:
			default:
			}
		})
		return verifyDoneMsg{run: r, report: rep, err: err}
	}
	return r, tea.Batch(work, waitVerify(r))
}

func waitVerify(r *verifyRun) tea.Cmd {
	return func() tea.Msg {
		select {
		case m := <-r.prog:
			r.done, r.total = m.done, m.total
			return m
		case <-r.finished:
			return nil
		}
	}
}

// verifyResultStatus is the status line after a full verification.
func verifyResultStatus(s *session, m verifyDoneMsg) tea.Msg {
	switch {
	case m.err != nil:
		return statusMsg{text: s.T("err.action") + ": " + s.errText(m.err), err: true}
	case m.report.OK:
		return statusMsg{text: fmt.Sprintf(s.T("ledger.verified"), m.report.Entries)}
	}
	return statusMsg{text: fmt.Sprintf(s.T("chain.broken"), m.report.BrokenSeq) + ": " + oneLine(m.report.Problem), err: true}
}
