package tui

import (
	"context"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"mimamori/core"
)

// asciiRenderer is a session renderer without colour, for stable goldens.
func asciiRenderer() *lipgloss.Renderer {
	r := lipgloss.NewRenderer(nil)
	r.SetColorProfile(termenv.Ascii)
	r.SetHasDarkBackground(true)
	return r
}

func testCommon(ctx context.Context, f *fakeBackend, role core.Role, lang string, w, h int) Common {
	return Common{
		Ctx: ctx, Renderer: asciiRenderer(), Actor: actorFor(role), Core: f, Lang: lang,
		Location: testLoc, Width: w, Height: h, Now: func() time.Time { return testNow },
		Appliance: "mimamori 四街道市役所",
	}
}

// syncUI builds a quiet console and runs Init's loads to completion.
func syncUI(t testing.TB, f *fakeBackend, role core.Role, lang string, w, h int) *UI {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	m := New(testCommon(ctx, f, role, lang, w, h))
	u := m.(*UI)
	u.quiet = true
	run(u, u.Init())
	return u
}

// run executes cmd and feeds its messages back into u until nothing is
// left: the synchronous equivalent of the program loop, for quiet UIs.
func run(u *UI, cmd tea.Cmd) {
	queue := []tea.Cmd{cmd}
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		if c == nil {
			continue
		}
		msg := c()
		switch m := msg.(type) {
		case nil:
		case tea.BatchMsg:
			queue = append(queue, m...)
		case tea.QuitMsg:
		default:
			_, next := u.Update(msg)
			queue = append(queue, next)
		}
	}
}

// press sends keys through Update and runs what they start.
func press(u *UI, keys ...string) {
	for _, k := range keys {
		var msg tea.KeyMsg
		switch k {
		case "enter":
			msg = tea.KeyMsg{Type: tea.KeyEnter}
		case "esc":
			msg = tea.KeyMsg{Type: tea.KeyEsc}
		case "tab":
			msg = tea.KeyMsg{Type: tea.KeyTab}
		case "down":
			msg = tea.KeyMsg{Type: tea.KeyDown}
		case "up":
			msg = tea.KeyMsg{Type: tea.KeyUp}
		default:
			msg = tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
		}
		_, cmd := u.Update(msg)
		run(u, cmd)
	}
}
