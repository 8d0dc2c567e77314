package tui

import (
	"fmt"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"mimamori/core"
)

// BenchmarkKeypress measures one keypress to a new frame (Update + View)
// on each tab with 64 cameras: the console's share of keypress-to-screen.
func BenchmarkKeypress(b *testing.B) {
	for _, sz := range [][2]int{{80, 24}, {160, 48}} {
		for n, tab := range tabsFor(core.RoleManager) {
			name := fmt.Sprintf("%s_%dx%d", tab.titleKey()[4:], sz[0], sz[1])
			b.Run(name, func(b *testing.B) {
				u := syncUI(b, newFake(64), core.RoleManager, "ja", sz[0], sz[1])
				run(u, u.switchTo(n))
				down := tea.KeyMsg{Type: tea.KeyDown}
				up := tea.KeyMsg{Type: tea.KeyUp}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					k := down
					if i/40%2 == 1 { // walk down and back up through the list
						k = up
					}
					u.Update(k)
					_ = u.View()
				}
			})
		}
	}
}

// BenchmarkHealthRefresh: the 1 s health message with 64 cameras
// (rebuilds the cameras table) plus the frame it causes.
func BenchmarkHealthRefresh(b *testing.B) {
	f := newFake(64)
	u := syncUI(b, f, core.RoleManager, "ja", 160, 48)
	msg := healthMsg{stats: f.stats}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		u.Update(msg)
		_ = u.View()
	}
}
