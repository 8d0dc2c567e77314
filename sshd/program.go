package sshd

import (
	"context"
	"log/slog"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/ssh"
	bm "github.com/charmbracelet/wish/bubbletea"

	"mimamori/core"
)

// ProgramFactory builds a new tea.Program for one interactive session.
// It must pass ProgramOptions(s). Returning nil ends the session.
type ProgramFactory func(s ssh.Session, actor core.Actor) *tea.Program

// ProgramOptions are the options every session's program needs: the
// session as input and output, the alternate screen, the session's
// context (the program stops when the connection goes) and no signal
// handlers (the daemon owns SIGINT/SIGTERM).
func ProgramOptions(s ssh.Session) []tea.ProgramOption {
	return append(bm.MakeOptions(s),
		tea.WithAltScreen(),
		tea.WithContext(s.Context()),
		tea.WithoutSignalHandler(),
	)
}

// TUISession is what a console model needs from its SSH session; it
// carries the fields of tui.Common that the SSH layer knows.
type TUISession struct {
	Session       ssh.Session
	Ctx           context.Context
	Renderer      *lipgloss.Renderer // per session, never the global one
	Actor         core.Actor
	Lang          string
	Location      *time.Location
	Width, Height int
	Logger        *slog.Logger
	// Send delivers a message to this session's program. It blocks until
	// the program takes it and returns at once once the session is gone.
	Send func(tea.Msg)
}

// TUIProgram turns a model constructor into a ProgramFactory, e.g.
//
//	sshd.TUIProgram(func(ts sshd.TUISession) tea.Model {
//		return tui.New(tui.Common{Ctx: ts.Ctx, Renderer: ts.Renderer, ...})
//	})
func TUIProgram(build func(TUISession) tea.Model) ProgramFactory {
	return func(s ssh.Session, actor core.Actor) *tea.Program {
		info, _ := InfoFromContext(s.Context())
		ctx := s.Context()
		ready := make(chan *tea.Program, 1)
		ts := TUISession{
			Session:  s,
			Ctx:      ctx,
			Renderer: bm.MakeRenderer(s),
			Actor:    actor,
			Lang:     info.Lang,
			Location: info.Location,
			Logger:   info.Logger,
			Send:     sendOnce(ctx, ready),
		}
		if pty, _, ok := s.Pty(); ok {
			ts.Width, ts.Height = pty.Window.Width, pty.Window.Height
		}
		if ts.Location == nil {
			ts.Location = defaultLocation()
		}
		if ts.Logger == nil {
			ts.Logger = slog.Default()
		}
		m := build(ts)
		if m == nil {
			return nil
		}
		prog := tea.NewProgram(m, ProgramOptions(s)...)
		ready <- prog
		return prog
	}
}

// sendOnce returns a Send that waits for the program to exist. Safe for
// concurrent use: the program is published through a closed channel.
func sendOnce(ctx context.Context, ready chan *tea.Program) func(tea.Msg) {
	published := make(chan struct{})
	var prog *tea.Program
	go func() {
		select {
		case prog = <-ready:
			close(published)
		case <-ctx.Done():
		}
	}()
	return func(m tea.Msg) {
		select {
		case <-published:
			prog.Send(m)
		case <-ctx.Done():
		}
	}
}
