package tui

import (
	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/textinput"
)

// newInput is a text input styled from the session renderer (its
// defaults come from the global renderer) with a steady cursor.
func newInput(s *session, prompt string, limit int) textinput.Model {
	ti := textinput.New()
	ti.Prompt = prompt
	ti.CharLimit = limit
	ti.PromptStyle = s.st.Input
	ti.TextStyle = s.c.Renderer.NewStyle()
	ti.PlaceholderStyle = s.st.Dim
	ti.CompletionStyle = s.st.Dim
	ti.Cursor.Style = s.c.Renderer.NewStyle().Reverse(true)
	ti.Cursor.TextStyle = s.c.Renderer.NewStyle()
	ti.Cursor.SetMode(cursor.CursorStatic)
	return ti
}
