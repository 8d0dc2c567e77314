package tui

import (
	"fmt"
	"math"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"mimamori/core"
)

// storagePage is storage and camera health (SPEC §11): what a technician
// needs and nothing of footage, requests or the ledger.
type storagePage struct {
	s      *session
	sc     scroller
	w, h   int
	specs  []colSpec
	shown  []int
	widths []int
}

const storageHeadH = 7 // ring bar, space, rates, errors, last error, separator, column titles

func storageSpecs() []colSpec {
	return []colSpec{
		{title: "col.camera", min: 10, max: 22, flex: 2, prio: 10},
		{title: "col.state", min: 10, prio: 9},
		{title: "col.fps", min: 5, prio: 5, right: true},
		{title: "col.bitrate", min: 9, prio: 4, right: true},
		{title: "col.reconn", min: 4, prio: 3, right: true},
		{title: "col.jumps", min: 4, prio: 2, right: true},
		{title: "col.achieved", min: 10, prio: 8, right: true},
		{title: "col.target", min: 9, prio: 7, right: true},
		{title: "col.result", min: 4, prio: 8},
		{title: "col.inspect", min: 14, prio: 7},
		{title: "col.retbar", min: 10, max: 60, flex: 3, prio: 1},
	}
}

func newStoragePage(s *session) *storagePage { return &storagePage{s: s} }

func (p *storagePage) SetSize(w, h int) {
	p.w, p.h = w, h
	p.specs = titled(p.s, storageSpecs())
	p.shown, p.widths = layout(p.specs, w)
	p.sc.set(len(p.s.data.stats.Cameras), p.listH())
}

func (p *storagePage) listH() int { return max(p.h-storageHeadH-p.warnH(), 1) }

// storageWarnings is how many of the regulation's warnings the storage
// tab shows under its table (the technician's first screen).
const storageWarnings = 3

func (p *storagePage) warnH() int {
	if n := len(p.s.data.warnings); n > 0 {
		return min(n, storageWarnings) + 1
	}
	return 0
}

func (p *storagePage) Capturing() bool { return false }

func (p *storagePage) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case healthMsg, refreshMsg, camerasMsg:
		p.sc.set(len(p.s.data.stats.Cameras), p.listH())
	case tea.KeyMsg:
		p.sc.key(msg, p.s.keys)
	}
	return nil
}

func (p *storagePage) View() string {
	s, d := p.s, &p.s.data
	if !s.allowed(core.ActionHealthRead) {
		return block("\n  "+s.T("health.forbidden"), p.w, p.h)
	}
	if !d.statsLoaded {
		msg := s.T("loading")
		if d.statsErr != nil {
			msg = s.errText(d.statsErr)
		}
		return block("\n  "+msg, p.w, p.h)
	}
	lines := p.ringLines()
	lines = append(lines, strings.Repeat("-", p.w), p.titleLine())
	a, b := p.sc.visible()
	for i := a; i < b; i++ {
		lines = append(lines, p.camLine(i))
	}
	// What the regulation expects and the records lack, at the foot.
	if wb := s.warningsBlock(p.w, storageWarnings, core.WarnInspectionOverdue, core.WarnInspectionDue,
		core.WarnCustodyMissing, core.WarnCustodyKeyHolder); wb != "" {
		for len(lines) < p.h-p.warnH() {
			lines = append(lines, "")
		}
		lines = append(lines, wb)
	}
	return block(strings.Join(lines, "\n"), p.w, p.h)
}

// ringLines: capacity/used/held bar and the write path's health.
func (p *storagePage) ringLines() []string {
	s, st, r := p.s, p.s.st, p.s.data.stats.Ring
	kv := func(k, v string) string { return st.Label.Render(s.T(k)+" ") + v }
	label := fit(s.T("health.ring"), 8)
	pct := fmtPercent(r.UsedBytes, r.CapacityBytes)
	barW := max(p.w-width(label)-width(pct)-4, 10)
	bar := label + " [" + ringBar(r, barW, st) + "] " + pct

	cams := p.s.data.stats.Cameras
	down, jumps := 0, uint64(0)
	for _, c := range cams {
		if !c.Connected {
			down++
		}
		jumps += c.ClockJumps
	}
	jumps += r.ClockSteps
	used := kv("health.used", fmtBytes(r.UsedBytes)+" / "+fmtBytes(r.CapacityBytes)) + "  " +
		kv("health.held", fmtBytes(r.HeldBytes)+" ("+s.T("health.limit")+" "+fmtBytes(r.HoldLimitBytes)+")") + "  " +
		kv("health.diskfree", fmtBytes(r.DiskFreeBytes))
	errs := fmt.Sprint(r.WriteErrors)
	if r.WriteErrors > 0 {
		errs = st.Bad.Render(errs)
	}
	downTxt := fmt.Sprintf("%d/%d", down, len(cams))
	if down > 0 {
		downTxt = st.Bad.Render(downTxt)
	}
	rates := kv("health.write", fmtByteRate(r.WriteBytesPerS)) + "  " +
		kv("health.fsync", fmtMillis(r.FsyncLatencyP50)+" / "+s.T("health.max")+" "+fmtMillis(r.FsyncLatencyMax))
	faults := kv("health.errors", errs) + "  " + kv("health.jumps", fmt.Sprint(jumps)) + "  " + kv("health.down", downTxt)
	last := st.Dim.Render(s.T("health.nolasterr"))
	if r.LastWriteError != "" {
		last = st.Error.Render(s.T("health.lasterr") + ": " + oneLine(r.LastWriteError))
	}
	if len(r.Alerts) > 0 {
		// What the technician must act on comes first (disk full, a
		// stalled disk, a camera with no block, ...).
		parts := make([]string, 0, len(r.Alerts))
		for _, a := range r.Alerts {
			t := s.T("alert." + a.Kind)
			if a.Camera != "" {
				t += " " + a.Camera
			}
			parts = append(parts, t)
		}
		last = st.Error.Render(fit(s.T("health.alerts")+": "+oneLine(strings.Join(parts, "; ")), p.w))
	}
	return []string{bar, used, rates, faults, last}
}

// ringBar: held footage, other used space, free space, over capacity.
func ringBar(r core.RingStats, n int, st *Styles) string {
	if r.CapacityBytes <= 0 {
		return strings.Repeat(cellGap, n)
	}
	cells := func(b int64) int {
		return int(math.Round(float64(n) * float64(max(b, 0)) / float64(r.CapacityBytes)))
	}
	held := min(cells(r.HeldBytes), n)
	used := min(max(cells(r.UsedBytes)-held, 0), n-held)
	free := n - held - used
	return st.BarHeld.Render(strings.Repeat(cellHeld, held)) +
		st.BarUsed.Render(strings.Repeat(cellFull, used)) +
		st.BarFree.Render(strings.Repeat(cellGap, free))
}

func (p *storagePage) titleLine() string {
	var b strings.Builder
	b.WriteString("  ")
	for j, i := range p.shown {
		t := p.s.T(p.specs[i].title)
		if p.specs[i].right {
			b.WriteString(fitRight(t, p.widths[j]))
		} else {
			b.WriteString(fit(t, p.widths[j]))
		}
		b.WriteByte(' ')
	}
	return p.s.st.Title.Render(b.String())
}

func (p *storagePage) camLine(i int) string {
	s, st := p.s, p.s.st
	c := s.data.stats.Cameras[i]
	name := c.Camera
	if reg, ok := s.data.camera(c.Camera); ok && reg.Name != "" {
		name = c.Camera + " " + reg.Name
	}
	okRet := c.TargetRetain <= 0 || c.AchievedRetain >= c.TargetRetain-c.TargetRetain/100
	state := s.T("state." + orDefault(c.State, "error"))
	cells := []string{
		name, state, fmt.Sprintf("%.1f", c.FPS), fmtBitrate(c.BitrateBps), fmt.Sprint(c.Reconnects),
		fmt.Sprint(c.ClockJumps), s.dur(c.AchievedRetain), s.dur(c.TargetRetain), "", "", "",
	}
	var b strings.Builder
	if i == p.sc.cursor {
		b.WriteString("> ")
	} else {
		b.WriteString("  ")
	}
	for j, k := range p.shown {
		w := p.widths[j]
		var cell string
		switch k {
		case 8:
			if okRet {
				cell = st.OK.Render(fit(s.T("health.met"), w))
			} else {
				cell = st.Bad.Render(fit(s.T("health.short"), w))
			}
		case 9:
			cell = p.inspectionCell(c.Camera, w)
		case 10:
			cell = retentionBar(c.AchievedRetain.Seconds(), c.TargetRetain.Seconds(), w, okRet, st)
		case 6:
			style := st.OK
			if !okRet {
				style = st.Bad
			}
			cell = style.Render(fitRight(cells[k], w))
		case 1:
			style := st.OK
			if !c.Connected {
				style = st.Bad
			}
			cell = style.Render(fit(cells[k], w))
		default:
			if p.specs[k].right {
				cell = fitRight(oneLine(cells[k]), w)
			} else {
				cell = fit(oneLine(cells[k]), w)
			}
		}
		b.WriteString(cell)
		b.WriteByte(' ')
	}
	return b.String()
}

// inspectionCell is the camera's periodic inspection (001 §8-1): its due
// date, marked when due soon or overdue.
func (p *storagePage) inspectionCell(cam string, w int) string {
	s, st := p.s, p.s.st
	x, ok := s.data.inspection(cam)
	if !ok {
		return fit("-", w)
	}
	due := s.local(x.Due).Format("01-02")
	switch x.State {
	case core.InspectionOverdue:
		return st.Bad.Render(fit(s.T("insp.overdue")+" "+due, w))
	case core.InspectionDueSoonState:
		return st.Warn.Render(fit(s.T("insp.due")+" "+due, w))
	}
	return st.OK.Render(fit(s.T("insp.ok")+" "+due, w))
}

// retentionBar fills achieved/target of n cells, green when met.
func retentionBar(achieved, target float64, n int, ok bool, st *Styles) string {
	if target <= 0 || n <= 0 {
		return strings.Repeat(" ", max(n, 0))
	}
	f := min(max(achieved/target, 0), 1)
	full := int(math.Round(f * float64(n)))
	style := st.OK
	if !ok {
		style = st.Bad
	}
	var on lipgloss.Style = style
	return on.Render(strings.Repeat(cellFull, full)) + st.BarFree.Render(strings.Repeat(cellGap, n-full))
}

func (p *storagePage) ShortHelp() []key.Binding {
	k := p.s.keys
	return []key.Binding{k.Up, k.Down}
}

func (p *storagePage) FullHelp() [][]key.Binding {
	k := p.s.keys
	return [][]key.Binding{{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom}}
}
