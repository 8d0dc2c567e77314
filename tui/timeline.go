package tui

import (
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"

	"mimamori/core"
)

// Timeline cells. The shades are East Asian "ambiguous" characters; they
// are measured as one cell, as lipgloss does everywhere.
const (
	cellFull    = "█"
	cellPartial = "▒"
	cellHeld    = "▓"
	cellGap     = "."
)

// timeline draws spans over [from, to) in n cells: how much of each cell
// is recorded, and whether a hold keeps it. Spans must be in start order.
func timeline(spans []core.Span, holds []core.Hold, from, to time.Time, n int, st *Styles) string {
	if n <= 0 || !to.After(from) {
		return ""
	}
	total := to.Sub(from)
	cells := make([]string, n)
	si := 0
	for i := 0; i < n; i++ {
		c0 := from.Add(time.Duration(int64(total) * int64(i) / int64(n)))
		c1 := from.Add(time.Duration(int64(total) * int64(i+1) / int64(n)))
		var covered time.Duration
		for si < len(spans) && !spans[si].End.After(c0) {
			si++
		}
		for j := si; j < len(spans) && spans[j].Start.Before(c1); j++ {
			if !spans[j].Damaged { // damaged footage shows as a gap
				covered += overlap(spans[j].Start, spans[j].End, c0, c1)
			}
		}
		frac := float64(covered) / float64(c1.Sub(c0))
		held := false
		for _, h := range holds {
			if h.From.Before(c1) && h.To.After(c0) {
				held = true
				break
			}
		}
		switch {
		case frac > 0 && held:
			cells[i] = cellHeld
		case frac >= 0.95:
			cells[i] = cellFull
		case frac > 0:
			cells[i] = cellPartial
		default:
			cells[i] = cellGap
		}
	}
	// One styled run per stretch of equal cells keeps escapes few.
	var b strings.Builder
	for i := 0; i < n; {
		j := i
		for j < n && cells[j] == cells[i] {
			j++
		}
		b.WriteString(cellStyle(cells[i], st).Render(strings.Repeat(cells[i], j-i)))
		i = j
	}
	return b.String()
}

func cellStyle(c string, st *Styles) lipgloss.Style {
	switch c {
	case cellFull, cellPartial:
		return st.Covered
	case cellHeld:
		return st.Held
	}
	return st.Gap
}

func overlap(a0, a1, b0, b1 time.Time) time.Duration {
	s, e := a0, a1
	if b0.After(s) {
		s = b0
	}
	if b1.Before(e) {
		e = b1
	}
	if e.After(s) {
		return e.Sub(s)
	}
	return 0
}

// axis puts a MM-DD label at each local midnight inside [from, to) that
// has room, over n cells.
func axis(from, to time.Time, n int, loc *time.Location) string {
	buf := []byte(strings.Repeat(" ", n))
	if n <= 0 || !to.After(from) {
		return string(buf)
	}
	total := to.Sub(from)
	lf := from.In(loc)
	day := time.Date(lf.Year(), lf.Month(), lf.Day(), 0, 0, 0, 0, loc)
	if day.Before(from) {
		day = day.AddDate(0, 0, 1)
	}
	free := 0
	for ; day.Before(to); day = day.AddDate(0, 0, 1) {
		pos := int(int64(day.Sub(from)) * int64(n) / int64(total))
		label := "|" + day.Format("01-02")
		if pos < free || pos+len(label) > n {
			continue
		}
		copy(buf[pos:], label)
		free = pos + len(label) + 1
	}
	return string(buf)
}
