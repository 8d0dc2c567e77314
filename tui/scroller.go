package tui

import (
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

// scroller is a cursor over n rows shown h at a time, for the pages that
// draw their own rows (styled cells the table cannot measure).
type scroller struct {
	cursor, offset, n, h int
}

func (sc *scroller) set(n, h int) {
	sc.n, sc.h = n, max(h, 1)
	sc.clamp()
}

func (sc *scroller) clamp() {
	if sc.cursor >= sc.n {
		sc.cursor = sc.n - 1
	}
	if sc.cursor < 0 {
		sc.cursor = 0
	}
	if sc.offset > sc.cursor {
		sc.offset = sc.cursor
	}
	if sc.cursor >= sc.offset+sc.h {
		sc.offset = sc.cursor - sc.h + 1
	}
	if sc.offset > sc.n-sc.h {
		sc.offset = max(sc.n-sc.h, 0)
	}
	if sc.offset < 0 {
		sc.offset = 0
	}
}

// key moves the cursor; it reports whether the key was a movement.
func (sc *scroller) key(msg tea.KeyMsg, k KeyMap) bool {
	switch {
	case key.Matches(msg, k.Up):
		sc.cursor--
	case key.Matches(msg, k.Down):
		sc.cursor++
	case key.Matches(msg, k.PageUp):
		sc.cursor -= sc.h
	case key.Matches(msg, k.PageDown):
		sc.cursor += sc.h
	case key.Matches(msg, k.Top):
		sc.cursor = 0
	case key.Matches(msg, k.Bottom):
		sc.cursor = sc.n - 1
	default:
		return false
	}
	sc.clamp()
	return true
}

// visible is the half-open range of rows on screen.
func (sc *scroller) visible() (int, int) {
	return sc.offset, min(sc.offset+sc.h, sc.n)
}
