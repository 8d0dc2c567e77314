package tui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"mimamori/core"
)

// recordingsPage shows, per camera, what is on disk over the retention
// window, the oldest footage, when it will be erased and what holds it.
type recordingsPage struct {
	s    *session
	sc   scroller
	w, h int
	rows []recRow

	list  bool       // the holds list instead of the cameras
	holds *listTable // every hold, newest first
	act   *form      // hold or view dialog
	step  string     // add | release | view
	links *mintMsg
}

type recRow struct {
	cam    core.Camera
	oldest time.Time
	holds  []core.Hold
}

// Fixed column widths; the timeline takes the rest.
const (
	recNameW   = 14
	recDateW   = 11 // "01-02 15:04"
	recHoldsW  = 4
	recDetailH = 4 // separator + 3 lines
	recHeadH   = 2 // window/legend + column titles
)

func newRecordingsPage(s *session) *recordingsPage {
	return &recordingsPage{s: s, holds: newListTable(s, holdSpecs())}
}

func (p *recordingsPage) SetSize(w, h int) {
	p.w, p.h = w, h
	p.sc.set(len(p.rows), p.listH())
	p.noteShown()
	p.holds.specs = titled(p.s, holdSpecs())
	p.holds.SetSize(w, max(h-1, 2))
	p.rebuildHolds()
}

func (p *recordingsPage) listH() int { return max(p.h-recHeadH-recDetailH, 1) }

func (p *recordingsPage) timelineW() int {
	return max(p.w-2-(recNameW+1)-1-(recDateW+1)*2-recHoldsW, 8)
}

func (p *recordingsPage) Capturing() bool { return p.act != nil || p.links != nil }

func (p *recordingsPage) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case camerasMsg, healthMsg, holdsMsg, coverageMsg, policyMsg, refreshMsg:
		p.rebuild()
		p.rebuildHolds()
	case holdActionMsg:
		return p.onHoldAction(msg)
	case mintMsg:
		if msg.origin == "recordings" && p.act != nil {
			p.act.busy = false
			if msg.err != nil {
				p.act.setErr(msg.err)
				return nil
			}
			p.act, p.links = nil, &msg
		}
	case tea.KeyMsg:
		return p.key(msg)
	}
	return nil
}

func (p *recordingsPage) rebuild() {
	d, now := &p.s.data, p.s.now()
	p.rows = p.rows[:0]
	for _, c := range d.cams {
		if c.Status == core.CameraRemoved {
			continue
		}
		r := recRow{cam: c, holds: d.activeHolds(c.ID, now)}
		if st, ok := d.camStats(c.ID); ok && !st.Oldest.IsZero() {
			r.oldest = st.Oldest
		} else if sp := d.cover[c.ID]; len(sp) > 0 {
			r.oldest = sp[0].Start
		}
		p.rows = append(p.rows, r)
	}
	p.sc.set(len(p.rows), p.listH())
	p.noteShown()
}

// noteShown tells the coverage load which rows are on screen; it asks
// for a load when one of them has none yet (scrolled into view).
func (p *recordingsPage) noteShown() tea.Cmd {
	d := &p.s.data
	d.coverFirst, d.coverRows = p.sc.offset, p.listH()
	if d.camsLoaded && d.coverMissing() {
		return func() tea.Msg { return wantLoadMsg(loadCoverage) }
	}
	return nil
}

// eraseAt is when the oldest footage goes: oldest + retention, unless a
// hold covers it (then it stays until the hold ends).
func (p *recordingsPage) eraseText(r recRow) string {
	if r.oldest.IsZero() {
		return "-"
	}
	for _, h := range r.holds {
		if !r.oldest.Before(h.From) && r.oldest.Before(h.To) {
			return p.s.T("rec.held")
		}
	}
	return p.s.fmtShort(r.oldest.Add(p.s.data.retention()))
}

func (p *recordingsPage) View() string {
	s, d, st := p.s, &p.s.data, p.s.st
	switch {
	case p.links != nil:
		return linksView(s, p.links, p.w, p.h)
	case p.act != nil:
		return p.act.View(p.w, p.h)
	case p.list:
		return p.holdsView()
	}
	if !d.camsLoaded || !d.coverLoaded {
		msg := s.T("loading")
		if d.coverErr != nil {
			msg = s.errText(d.coverErr)
		}
		return block("\n  "+msg, p.w, p.h)
	}
	tw := p.timelineW()
	from, to := d.coverFrom, d.coverTo
	lines := make([]string, 0, p.h)
	lines = append(lines, fmt.Sprintf("%s %s ~ %s (%s)   %s",
		st.Label.Render(s.T("rec.window")+":"), s.fmtShort(from), s.fmtShort(to), s.dur(to.Sub(from)),
		st.Dim.Render(cellFull+s.T("rec.legend.full")+" "+cellPartial+s.T("rec.legend.part")+" "+
			cellHeld+s.T("rec.legend.held")+" "+cellGap+s.T("rec.legend.gap"))))
	lines = append(lines, st.Title.Render("  "+fit(s.T("col.camera"), recNameW)+" "+
		axis(from, to, tw, s.c.Location)+" "+fit(s.T("rec.oldest"), recDateW)+" "+
		fit(s.T("rec.erase"), recDateW)+" "+fitRight(s.T("rec.holds"), recHoldsW)))
	a, b := p.sc.visible()
	for i := a; i < b; i++ {
		r := p.rows[i]
		mark := "  "
		if i == p.sc.cursor {
			mark = "> "
		}
		name := r.cam.Name
		if r.cam.Number != "" {
			name = r.cam.Number + " " + name
		}
		tl := st.Dim.Render(fit(s.T("loading"), tw)) // not loaded yet: no gap is shown that is not one
		if sp, ok := d.cover[r.cam.ID]; ok {
			tl = timeline(sp, r.holds, from, to, tw, st)
		}
		line := mark + fit(oneLine(name), recNameW) + " " + tl + " " +
			fit(s.fmtShort(r.oldest), recDateW) + " " + fit(p.eraseText(r), recDateW) + " " +
			fitRight(holdCount(len(r.holds)), recHoldsW)
		lines = append(lines, line)
	}
	for len(lines) < recHeadH+p.listH() {
		lines = append(lines, "")
	}
	lines = append(lines, strings.Repeat("-", p.w))
	lines = append(lines, p.detail()...)
	return block(strings.Join(lines, "\n"), p.w, p.h)
}

func holdCount(n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprint(n)
}

// detail: the selected camera's retention and each hold with its reason.
func (p *recordingsPage) detail() []string {
	s, d, st := p.s, &p.s.data, p.s.st
	if p.sc.cursor >= len(p.rows) {
		return nil
	}
	r := p.rows[p.sc.cursor]
	kv := func(k, v string) string { return st.Label.Render(s.T(k)+": ") + v }
	first := st.Title.Render(r.cam.ID) + "  " + kv("rec.oldest", s.fmtDateTime(r.oldest)) + "  " +
		kv("rec.erase", p.eraseText(r)) + "  " + kv("rec.target", s.dur(d.retention()))
	if cs, ok := d.camStats(r.cam.ID); ok && cs.AchievedRetain > 0 {
		first += "  " + kv("rec.achieved", s.dur(cs.AchievedRetain))
	}
	out := []string{first}
	if len(r.holds) == 0 {
		return append(out, st.Dim.Render(s.T("rec.noholds")))
	}
	for i, h := range r.holds {
		if i == 2 {
			break
		}
		who := h.Kind
		if h.RequestID != "" {
			who += " " + h.RequestID
		}
		out = append(out, st.Held.Render(fmt.Sprintf("%s %s  %s ~ %s  %s %s  %s", s.T("rec.hold"), h.ID,
			s.fmtShort(h.From), s.fmtShort(h.To), s.T("rec.until"), s.fmtDateTime(h.Until), who))+
			"  "+kv("rec.reason", oneLine(core.HoldReason(h, s.lang))))
	}
	return out
}

func (p *recordingsPage) ShortHelp() []key.Binding {
	k := p.s.keys
	switch {
	case p.links != nil:
		return []key.Binding{k.Back}
	case p.act != nil:
		return []key.Binding{k.NextField, k.Save, k.Cancel}
	}
	return append([]key.Binding{k.Up, k.Down}, p.actions()...)
}

func (p *recordingsPage) FullHelp() [][]key.Binding {
	k := p.s.keys
	return [][]key.Binding{{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom}, p.actions()}
}
