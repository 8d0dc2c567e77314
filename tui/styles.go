package tui

import (
	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/table"
	"github.com/charmbracelet/lipgloss"
)

// Styles are built per session from the session's renderer, so colours
// match the SSH client's terminal and not the server's stdout.
type Styles struct {
	App         lipgloss.Style
	Header      lipgloss.Style
	HeaderName  lipgloss.Style
	HeaderDim   lipgloss.Style
	TabActive   lipgloss.Style
	TabInactive lipgloss.Style
	TabBar      lipgloss.Style
	Title       lipgloss.Style
	Label       lipgloss.Style
	Value       lipgloss.Style
	Dim         lipgloss.Style
	OK          lipgloss.Style
	Bad         lipgloss.Style
	Warn        lipgloss.Style
	Error       lipgloss.Style
	Status      lipgloss.Style
	Covered     lipgloss.Style
	Gap         lipgloss.Style
	Held        lipgloss.Style
	BarUsed     lipgloss.Style
	BarHeld     lipgloss.Style
	BarFree     lipgloss.Style
	Input       lipgloss.Style
	Dialog      lipgloss.Style
	Table       table.Styles
	Help        help.Styles
}

// DefaultStyles derives every style from r (never lipgloss.NewStyle()).
func DefaultStyles(r *lipgloss.Renderer) *Styles {
	accent := lipgloss.AdaptiveColor{Light: "#5A3FC0", Dark: "#9D8CFF"}
	dim := lipgloss.AdaptiveColor{Light: "#777777", Dark: "#8A8A8A"}
	green := lipgloss.AdaptiveColor{Light: "#1B7F3B", Dark: "#5FD787"}
	red := lipgloss.AdaptiveColor{Light: "#B3261E", Dark: "#FF6B6B"}
	amber := lipgloss.AdaptiveColor{Light: "#8A5A00", Dark: "#FFC857"}

	s := &Styles{}
	s.App = r.NewStyle()
	s.Header = r.NewStyle().Bold(true)
	s.HeaderName = r.NewStyle().Bold(true).Foreground(accent)
	s.HeaderDim = r.NewStyle().Foreground(dim)
	s.TabActive = r.NewStyle().Bold(true).Foreground(accent).Underline(true)
	s.TabInactive = r.NewStyle().Foreground(dim)
	s.TabBar = r.NewStyle()
	s.Title = r.NewStyle().Bold(true)
	s.Label = r.NewStyle().Foreground(dim)
	s.Value = r.NewStyle()
	s.Dim = r.NewStyle().Foreground(dim)
	s.OK = r.NewStyle().Foreground(green)
	s.Bad = r.NewStyle().Foreground(red).Bold(true)
	s.Warn = r.NewStyle().Foreground(amber)
	s.Error = r.NewStyle().Foreground(red)
	s.Status = r.NewStyle().Foreground(dim)
	s.Covered = r.NewStyle().Foreground(green)
	s.Gap = r.NewStyle().Foreground(red)
	s.Held = r.NewStyle().Foreground(amber)
	s.BarUsed = r.NewStyle().Foreground(accent)
	s.BarHeld = r.NewStyle().Foreground(amber)
	s.BarFree = r.NewStyle().Foreground(dim)
	s.Input = r.NewStyle().Foreground(accent)
	s.Dialog = r.NewStyle().Border(lipgloss.NormalBorder()).BorderForeground(accent).Padding(0, 1)
	s.Table = table.Styles{
		Header:   r.NewStyle().Bold(true).Foreground(accent).PaddingRight(1),
		Cell:     r.NewStyle().PaddingRight(1),
		Selected: r.NewStyle().Reverse(true),
	}
	s.Help = help.Styles{
		Ellipsis:       r.NewStyle().Foreground(dim),
		ShortKey:       r.NewStyle().Bold(true),
		ShortDesc:      r.NewStyle().Foreground(dim),
		ShortSeparator: r.NewStyle().Foreground(dim),
		FullKey:        r.NewStyle().Bold(true),
		FullDesc:       r.NewStyle().Foreground(dim),
		FullSeparator:  r.NewStyle().Foreground(dim),
	}
	return s
}
