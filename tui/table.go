package tui

import (
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/table"
	tea "github.com/charmbracelet/bubbletea"
)

// colSpec describes a column: its title (i18n key), the width it needs,
// how much of the spare width it takes, and when to drop it on a narrow
// terminal (lower prio goes first).
type colSpec struct {
	title string
	min   int
	max   int // 0: no cap
	flex  int // share of spare width
	prio  int // higher stays longer
	right bool
	hide  bool // never shown (e.g. data the role cannot read)
}

// listTable wraps bubbles' table: columns laid out for the width with
// cell widths measured in terminal cells, session styles, and a ">"
// cursor column so the selection shows even without colour.
type listTable struct {
	s      *session
	t      table.Model
	specs  []colSpec
	shown  []int // index into specs of the columns that fit
	widths []int // width of each shown column
	raw    [][]string
	mark   int
	w, h   int
	// dirty: the table holds placeholder rows since SetSize; they are
	// filled (apply) when first needed. A page sets its size and then
	// its rows: the table's rows are rendered once, not twice.
	dirty bool
}

func newListTable(s *session, specs []colSpec) *listTable {
	km := table.KeyMap{
		LineUp:       s.keys.Up,
		LineDown:     s.keys.Down,
		PageUp:       s.keys.PageUp,
		PageDown:     s.keys.PageDown,
		GotoTop:      s.keys.Top,
		GotoBottom:   s.keys.Bottom,
		HalfPageUp:   key.NewBinding(key.WithDisabled()),
		HalfPageDown: key.NewBinding(key.WithDisabled()),
	}
	t := table.New(table.WithStyles(s.st.Table), table.WithKeyMap(km), table.WithFocused(true))
	return &listTable{s: s, t: t, specs: specs, mark: -1}
}

// layout picks the columns that fit w (each takes width+1 for the gap)
// and shares the spare width among the flexible ones.
func layout(specs []colSpec, w int) (shown []int, widths []int) {
	keep := make([]bool, len(specs))
	// The cursor column takes 2 cells (mark + gap).
	used := 2
	for {
		best := -1
		for i, c := range specs {
			if !keep[i] && !c.hide && (best < 0 || c.prio > specs[best].prio) {
				best = i
			}
		}
		if best < 0 || used+specs[best].min+1 > w {
			break
		}
		keep[best] = true
		used += specs[best].min + 1
	}
	totalFlex := 0
	for i, c := range specs {
		if keep[i] {
			shown = append(shown, i)
			widths = append(widths, c.min)
			totalFlex += c.flex
		}
	}
	spare := w - used
	// Hand out spare cells by flex weight, respecting max; loop until
	// nothing changes so a capped column's share goes to the others.
	for spare > 0 && totalFlex > 0 {
		given := 0
		for j, i := range shown {
			c := specs[i]
			if c.flex == 0 || (c.max > 0 && widths[j] >= c.max) {
				continue
			}
			add := spare * c.flex / totalFlex
			if add == 0 {
				add = 1
			}
			if c.max > 0 && widths[j]+add > c.max {
				add = c.max - widths[j]
			}
			if add > spare-given {
				add = spare - given
			}
			widths[j] += add
			given += add
		}
		if given == 0 {
			break
		}
		spare -= given
	}
	return shown, widths
}

func (lt *listTable) SetSize(w, h int) {
	lt.w, lt.h = w, h
	lt.shown, lt.widths = layout(lt.specs, w)
	cols := make([]table.Column, 0, len(lt.shown)+1)
	cols = append(cols, table.Column{Title: " ", Width: 1})
	for j, i := range lt.shown {
		title := lt.s.T(lt.specs[i].title)
		if lt.specs[i].right {
			title = fitRight(title, lt.widths[j])
		} else {
			title = fit(title, lt.widths[j])
		}
		cols = append(cols, table.Column{Title: title, Width: lt.widths[j]})
	}
	// Rows are rebuilt first so they always match the columns; the
	// cursor survives.
	cur := lt.t.Cursor()
	lt.t.SetRows(nil)
	lt.t.SetColumns(cols)
	lt.t.SetWidth(w)
	lt.t.SetHeight(max(h, 2))
	lt.t.SetRows(make([]table.Row, len(lt.raw)))
	lt.t.SetCursor(cur)
	lt.dirty = true
}

// SetRows takes cells for every spec column (shown or not).
func (lt *listTable) SetRows(raw [][]string) {
	lt.raw = raw
	lt.apply()
}

// fill applies the rows if SetSize left placeholders.
func (lt *listTable) fill() {
	if lt.dirty {
		lt.apply()
	}
}

func (lt *listTable) apply() {
	lt.dirty = false
	cur := lt.t.Cursor()
	if cur >= len(lt.raw) {
		cur = len(lt.raw) - 1
	}
	if cur < 0 && len(lt.raw) > 0 {
		cur = 0
	}
	rows := make([]table.Row, len(lt.raw))
	for r, cells := range lt.raw {
		row := make(table.Row, 0, len(lt.shown)+1)
		if r == cur {
			row = append(row, ">")
		} else {
			row = append(row, " ")
		}
		for j, i := range lt.shown {
			v := ""
			if i < len(cells) {
				v = oneLine(cells[i])
			}
			if lt.specs[i].right {
				v = fitRight(v, lt.widths[j])
			} else {
				v = fit(v, lt.widths[j])
			}
			row = append(row, v)
		}
		rows[r] = row
	}
	lt.t.SetRows(rows)
	if lt.t.Cursor() != cur {
		lt.t.SetCursor(cur)
	}
	lt.mark = cur
}

// Update moves the cursor. The ">" mark is moved in the table's own rows
// before the move, so the table renders its viewport once per key.
func (lt *listTable) Update(msg tea.Msg) tea.Cmd {
	km, ok := msg.(tea.KeyMsg)
	if !ok || !lt.t.Focused() {
		return nil
	}
	lt.fill()
	rows := lt.t.Rows()
	n := len(rows)
	if n == 0 {
		return nil
	}
	cur := lt.t.Cursor()
	k := lt.t.KeyMap
	var delta int
	switch {
	case key.Matches(km, k.LineUp):
		delta = -1
	case key.Matches(km, k.LineDown):
		delta = 1
	case key.Matches(km, k.PageUp):
		delta = -lt.t.Height()
	case key.Matches(km, k.PageDown):
		delta = lt.t.Height()
	case key.Matches(km, k.GotoTop):
		delta = -n
	case key.Matches(km, k.GotoBottom):
		delta = n
	default:
		return nil
	}
	target := min(max(cur+delta, 0), n-1)
	if target == cur {
		return nil
	}
	if cur >= 0 && cur < n {
		rows[cur][0] = " "
	}
	rows[target][0] = ">"
	if delta < 0 {
		lt.t.MoveUp(cur - target)
	} else {
		lt.t.MoveDown(target - cur)
	}
	lt.mark = lt.t.Cursor()
	return nil
}

func (lt *listTable) Cursor() int { return lt.t.Cursor() }

func (lt *listTable) Len() int { return len(lt.raw) }

func (lt *listTable) SetCursor(i int) {
	lt.t.SetCursor(i)
	lt.apply()
}

// View is exactly w×h.
func (lt *listTable) View() string {
	lt.fill()
	return block(lt.t.View(), lt.w, lt.h)
}

func (lt *listTable) Focus() { lt.t.Focus() }
func (lt *listTable) Blur()  { lt.t.Blur() }
