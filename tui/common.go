// Package tui is the mimamori console: one bubbletea program per SSH
// session, built for the role the session's key carries. It never touches
// storage; every read and write goes through Backend (core), inside a
// tea.Cmd, and core checks every permission again.
package tui

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/charmbracelet/lipgloss"

	"mimamori/core"
)

// Common is what a session's console needs. sshd fills it per session.
type Common struct {
	Ctx      context.Context    // the session's context; the console stops with it
	Renderer *lipgloss.Renderer // sshd.TUISession.Renderer: colours for this client
	Actor    core.Actor
	Core     Backend
	Lang     string         // "ja" or "en"
	Location *time.Location // times are shown here (Asia/Tokyo by default)
	Width    int
	Height   int
	Logger   *slog.Logger

	// Optional.
	Appliance string           // name in the header; "mimamori" if empty
	Now       func() time.Time // clock; time.Now if nil (tests fix it)
	ExportDir string           // where ExportRequest writes packages; no export action if empty
	Viewer    Viewer           // playback/live URLs; no view action if nil
	SessionID string           // the SSH session, passed to Viewer.Mint
	// ApplianceKey is the host key's fingerprint, the one key an outsider
	// checks packages against (mimamori verify --key).
	ApplianceKey string
	// Command is the exact ssh command line that runs remote on this
	// appliance from the person's own computer (for what a terminal
	// cannot carry: a file to upload, a sheet to print). Without it the
	// console writes "ssh APPLIANCE remote".
	Command func(remote string) string
}

// session is the per-program state every page shares: never global.
type session struct {
	c    Common
	st   *Styles
	lang string
	keys KeyMap
	data data
}

func newSession(c Common) *session {
	if c.Ctx == nil {
		c.Ctx = context.Background()
	}
	if c.Renderer == nil {
		c.Renderer = lipgloss.NewRenderer(io.Discard)
	}
	if c.Location == nil {
		c.Location = defaultLocation()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Appliance == "" {
		c.Appliance = "mimamori"
	}
	if c.Width <= 0 {
		c.Width = 80
	}
	if c.Height <= 0 {
		c.Height = 24
	}
	s := &session{c: c, st: DefaultStyles(c.Renderer)}
	s.setLang(c.Lang)
	return s
}

func defaultLocation() *time.Location {
	if l, err := time.LoadLocation("Asia/Tokyo"); err == nil {
		return l
	}
	return time.FixedZone("JST", 9*60*60)
}

func (s *session) setLang(l string) {
	if l != "en" {
		l = "ja"
	}
	s.lang = l
	s.keys = newKeyMap(s.T)
}

func (s *session) now() time.Time { return s.c.Now() }

func (s *session) allowed(a core.Action) bool { return core.Allowed(s.c.Actor.Role, a) }

// canView: viewing needs the permission and a Viewer to mint URLs.
func (s *session) canView() bool { return s.c.Viewer != nil && s.allowed(core.ActionView) }

// command is the ssh command line for remote, as the person types it.
func (s *session) command(remote string) string {
	if s.c.Command != nil {
		return s.c.Command(remote)
	}
	return "ssh APPLIANCE " + remote
}

// local converts a stored UTC time for display.
func (s *session) local(t time.Time) time.Time { return t.In(s.c.Location) }
