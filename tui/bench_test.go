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

// BenchmarkUpkeepKeypress: a keypress on the Maintenance tab's log with
// 10, 1,000 and 10,000 records: rows are built when data arrives and the
// table renders at most twice its height around the cursor, so once the
// log is longer than that a key costs the same whatever it holds.
func BenchmarkUpkeepKeypress(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			f := newFake(64)
			for i := range n {
				f.maint = append(f.maint, core.MaintenanceRecord{ID: fmt.Sprintf("M-2026-%05d", i), Kind: core.MaintInspection,
					Camera: fmt.Sprintf("cam%02d", i%64+1), Date: testNow, Performer: "Tanaka Ken", Notes: "レンズ清掃", CreatedBy: "Tanaka Ken"})
			}
			u := syncUI(b, f, core.RoleManager, "ja", 160, 48)
			run(u, u.switchTo(6))
			keys(u, "l", "l", "l", "l") // the maintenance log
			down, up := tea.KeyMsg{Type: tea.KeyDown}, tea.KeyMsg{Type: tea.KeyUp}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				k := down
				if i/40%2 == 1 {
					k = up
				}
				u.Update(k)
				_ = u.View()
			}
		})
	}
}

// BenchmarkResize: a window change (the terminal dragged a column wider
// or narrower) and the frame it causes, with 64 cameras on every tab.
func BenchmarkResize(b *testing.B) {
	u := syncUI(b, newFake(64), core.RoleManager, "ja", 160, 48)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		u.Update(tea.WindowSizeMsg{Width: 160 - i%2, Height: 48})
		_ = u.View()
	}
}
