package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"mimamori/core"
)

// secretScreen shows the package secret of an approved request, once:
// core does not keep it, so the manager either writes it down (and
// proves it by typing its last group back) or prints a key sheet from
// their own computer instead (which makes a new secret). With no secret
// it is the sheet instructions alone (the manager chose the sheet).
type secretScreen struct {
	req     core.Request
	secret  string
	input   textinput.Model
	leaving bool // esc once: asks before the secret is gone for good
	sheet   bool // the sheet instructions are on screen
	wrong   bool // the typed group did not match
}

// secretGroup is how many characters the hand-copy groups hold.
const secretGroup = 6

func newSecretScreen(s *session, r core.Request, secret string) *secretScreen {
	x := &secretScreen{req: r, secret: secret, sheet: secret == ""}
	x.input = newInput(s, "> ", 32)
	x.input.Placeholder = strings.Repeat("?", len(x.lastGroup()))
	x.input.Focus()
	return x
}

// groups splits the secret for copying by hand: the fixed prefix, then
// the key in groups of six.
func (x *secretScreen) groups() (prefix string, groups []string) {
	const pre = "AGE-SECRET-KEY-1"
	body := x.secret
	if strings.HasPrefix(body, pre) {
		prefix, body = pre, body[len(pre):]
	}
	for len(body) > 0 {
		n := min(secretGroup, len(body))
		groups = append(groups, body[:n])
		body = body[n:]
	}
	return prefix, groups
}

func (x *secretScreen) lastGroup() string {
	_, g := x.groups()
	if len(g) == 0 {
		return ""
	}
	return g[len(g)-1]
}

// sheetCommand prints the key sheet on the person's own computer: the
// page goes to their file, never to the appliance's disk.
func (s *session) sheetCommand(id string) string {
	return s.command("request protect " + id + " --sheet > " + id + "-key.html")
}

// key handles a key on the screen; done reports the screen is closed.
func (x *secretScreen) key(s *session, msg tea.KeyMsg) (done bool, cmd tea.Cmd) {
	switch {
	case x.leaving || (x.sheet && x.secret != ""):
		switch msg.String() {
		case "y", "Y":
			return true, statusCmd(s.T("req.secret.closed"), false)
		case "n", "N", "esc":
			x.leaving = false
			x.sheet = false
			return false, x.input.Focus()
		}
		return false, nil
	case x.sheet: // the sheet instructions alone
		if msg.Type == tea.KeyEsc || msg.Type == tea.KeyEnter {
			return true, nil
		}
		return false, nil
	case msg.Type == tea.KeyEsc:
		x.leaving = true
		x.input.Blur()
		return false, nil
	case msg.Type == tea.KeyEnter:
		if strings.EqualFold(strings.TrimSpace(x.input.Value()), x.lastGroup()) {
			return true, statusCmd(fmt.Sprintf(s.T("req.secret.kept"), x.req.ID), false)
		}
		x.wrong = true
		x.input.SetValue("")
		return false, nil
	case key.Matches(msg, s.keys.Sheet): // not a letter: the groups are typed with letters
		x.sheet = true
		x.input.Blur()
		return false, nil
	}
	var c tea.Cmd
	x.input, c = x.input.Update(msg)
	return false, c
}

func (x *secretScreen) view(s *session, w, h int) string {
	st := s.st
	var lines []string
	wrap := func(style func(...string) string, text string) {
		for _, l := range strings.Split(wrapCells(text, w-2, 3), "\n") {
			if strings.TrimSpace(l) != "" {
				lines = append(lines, style(l))
			}
		}
	}
	plain := func(v ...string) string { return strings.Join(v, "") }
	if x.sheet {
		title := fmt.Sprintf(s.T("req.f.sheet"), x.req.ID)
		lines = append(lines, st.Title.Render(trunc(title, w)), "")
		if x.secret == "" {
			wrap(plain, fmt.Sprintf(s.T("req.sheet.pending"), x.req.ID))
		} else {
			wrap(st.Warn.Render, s.T("req.sheet.replaces"))
		}
		lines = append(lines, "", st.Label.Render(s.T("req.sheet.run")))
		lines = append(lines, indent(hardwrap(s.sheetCommand(x.req.ID), w-2))...)
		lines = append(lines, "")
		wrap(plain, s.T("req.sheet.print"))
		foot := s.T("req.sheet.keys")
		if x.secret != "" {
			foot = s.T("req.sheet.back")
		}
		return framed(lines, foot, w, h, st)
	}
	lines = append(lines, st.Title.Render(trunc(fmt.Sprintf(s.T("req.f.secret"), x.req.ID), w)), "")
	wrap(plain, s.T("req.secret.once"))
	lines = append(lines, "", "  "+st.Title.Render(x.secret), "")
	prefix, groups := x.groups()
	lines = append(lines, st.Dim.Render("  "+s.T("req.secret.byhand"))+" "+prefix)
	row := " "
	for _, g := range groups {
		if width(row)+1+len(g) > w {
			lines = append(lines, row)
			row = " "
		}
		row += " " + g
	}
	lines = append(lines, row, "")
	wrap(plain, s.T("req.secret.howto"))
	key := s.c.ApplianceKey
	if key == "" {
		key = "…"
	}
	lines = append(lines, indent(hardwrap("mimamori verify PACKAGE --identity key.txt --key "+key, w-2))...)
	lines = append(lines, "")
	if x.leaving {
		wrap(st.Bad.Render, s.T("req.secret.leave"))
		return framed(lines, "[y] "+s.T("req.secret.leave.yes")+"  [n] "+s.T("req.secret.leave.no"), w, h, st)
	}
	wrap(plain, fmt.Sprintf(s.T("req.secret.confirm"), len(x.lastGroup())))
	in := x.input.View()
	if x.wrong {
		in += "  " + st.Error.Render(s.T("req.secret.wrong"))
	}
	lines = append(lines, "  "+in)
	return framed(lines, s.T("req.secret.keys"), w, h, st)
}

// framed puts lines in a w×h block with foot on the last line; when the
// lines do not fit, the top ones are kept (the title and the secret).
func framed(lines []string, foot string, w, h int, st *Styles) string {
	if len(lines) > h-1 {
		lines = lines[:max(h-1, 0)]
	}
	for len(lines) < h-1 {
		lines = append(lines, "")
	}
	lines = append(lines, st.Dim.Render(trunc(foot, w)))
	return block(strings.Join(lines, "\n"), w, h)
}

// hardwrap breaks a command line into lines of at most w cells so it
// can be copied whole (never cut with "…"): between words, each broken
// line ending in " \\" so the lines pasted together are still one shell
// command. A single word longer than a line is broken where it must.
func hardwrap(v string, w int) []string {
	w = max(w, 20)
	var out []string
	line := ""
	for _, word := range shellWords(v) {
		switch {
		case line == "":
			line = word
		case width(line)+1+width(word)+2 <= w:
			line += " " + word
		default:
			out = append(out, line+" \\")
			line = "    " + word
		}
	}
	for width(line) > w {
		cut := ansi.Truncate(line, w, "")
		out = append(out, cut)
		line = strings.TrimPrefix(line, cut)
	}
	return append(out, line)
}

// indent puts two spaces before each line.
func indent(lines []string) []string {
	for i := range lines {
		lines[i] = "  " + lines[i]
	}
	return lines
}

// shellWords splits a command line at spaces outside single quotes, so a
// quoted file name is never broken.
func shellWords(v string) []string {
	var out []string
	var cur strings.Builder
	quoted := false
	for _, r := range v {
		switch {
		case r == '\'':
			quoted = !quoted
			cur.WriteRune(r)
		case r == ' ' && !quoted:
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}
