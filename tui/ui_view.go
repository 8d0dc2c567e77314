package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
)

// View draws header, tab bar, the active page, status and help, each
// line exactly the terminal's width.
func (u *UI) View() string {
	w, h := u.s.c.Width, u.s.c.Height
	if w < 20 || h < chromeLines+1 {
		return block(u.s.T("ui.small"), w, h)
	}
	bodyH := h - chromeLines
	var body string
	switch p := u.page(); {
	case p == nil:
		body = block("\n  "+u.s.T("ui.notabs"), w, bodyH)
	case u.full:
		body = block(u.help.FullHelpView(u.fullHelp()), w, bodyH)
	default:
		body = p.View()
	}
	var b strings.Builder
	b.Grow((w + 8) * h)
	b.WriteString(u.headerView(w))
	b.WriteByte('\n')
	b.WriteString(u.tabsView(w))
	b.WriteByte('\n')
	b.WriteString(body)
	b.WriteByte('\n')
	b.WriteString(u.statusView(w))
	b.WriteByte('\n')
	b.WriteString(fit(u.help.ShortHelpView(u.shortHelp()), w))
	return b.String()
}

func (u *UI) headerView(w int) string {
	s, st := u.s, u.s.st
	a := s.c.Actor
	name := a.Name
	if name == "" {
		name = a.Fingerprint
	}
	left := st.HeaderName.Render(s.c.Appliance) + "  " +
		st.Header.Render(name) + st.HeaderDim.Render(" ("+s.roleName(a.Role)+")")
	right := s.local(s.now()).Format("2006-01-02 15:04 MST")
	if chain := u.chainView(); chain != "" {
		right = chain + "  " + right
	}
	gap := w - width(left) - width(right)
	if gap < 1 {
		// Narrow: the clock and chain status win over the user's name.
		left = trunc(left, max(0, w-width(right)-1))
		gap = w - width(left) - width(right)
	}
	return fit(left+strings.Repeat(" ", max(gap, 0))+right, w)
}

// chainView is the ledger chain status for roles allowed to verify.
func (u *UI) chainView() string {
	s, d := u.s, &u.s.data
	if !u.needs(loadVerify) || !s.allowed(loadVerify.action()) {
		return ""
	}
	label := s.T("hdr.chain") + ": "
	switch {
	case d.verifyErr != nil:
		return s.st.Warn.Render(label + s.T("chain.unknown"))
	case !d.verifyLoaded:
		return s.st.Dim.Render(label + s.T("chain.checking"))
	case d.verify.Pending:
		return s.st.Dim.Render(label + s.T("chain.checking") + pct(d.verify.Done, d.verify.Total))
	case d.verify.OK:
		return s.st.OK.Render(label + s.T("chain.ok"))
	}
	return s.st.Bad.Render(label + fmt.Sprintf(s.T("chain.broken"), d.verify.BrokenSeq))
}

// tabsView is the tab bar. When the titles do not fit (seven tabs in
// Japanese at 80 columns), the other tabs get their short titles, then
// numbers only; the active tab always shows its whole title.
func (u *UI) tabsView(w int) string {
	// The bar changes only with the tab, the language or the width: it is
	// laid out once per change, not per keypress.
	k := tabBarKey{active: u.active, lang: u.s.lang, w: w}
	if u.tabBar.key == k && u.tabBar.text != "" {
		return u.tabBar.text
	}
	u.tabBar.key, u.tabBar.text = k, u.layoutTabs(w)
	return u.tabBar.text
}

type tabBarKey struct {
	active int
	lang   string
	w      int
}

func (u *UI) layoutTabs(w int) string {
	st := u.s.st
	for form := 0; ; form++ {
		parts := make([]string, 0, len(u.tabs))
		for i, t := range u.tabs {
			label := fmt.Sprintf("%d %s", i+1, u.s.T(t.titleKey()))
			switch {
			case i == u.active:
				parts = append(parts, st.TabActive.Render("["+label+"]"))
				continue
			case form == 1:
				label = fmt.Sprintf("%d %s", i+1, u.s.T(t.titleKey()+".short"))
			case form >= 2:
				label = fmt.Sprint(i + 1)
			}
			parts = append(parts, st.TabInactive.Render(" "+label+" "))
		}
		bar := strings.Join(parts, " ")
		if width(bar) <= w || form >= 2 {
			return fit(bar, w)
		}
	}
}

func (u *UI) statusView(w int) string {
	if u.status == "" {
		return fit("", w)
	}
	if u.statusErr {
		return fit(u.s.st.Error.Render(trunc(u.status, w)), w)
	}
	return fit(u.s.st.Status.Render(trunc(u.status, w)), w)
}

func (u *UI) globalKeys() []key.Binding {
	k := u.s.keys
	if len(u.tabs) > 1 {
		return []key.Binding{k.NextTab, k.Lang, k.Help, k.Quit}
	}
	return []key.Binding{k.Lang, k.Help, k.Quit}
}

func (u *UI) shortHelp() []key.Binding {
	var out []key.Binding
	if p := u.page(); p != nil {
		out = append(out, p.ShortHelp()...)
	}
	return append(out, u.globalKeys()...)
}

func (u *UI) fullHelp() [][]key.Binding {
	var out [][]key.Binding
	if p := u.page(); p != nil {
		out = append(out, p.FullHelp()...)
	}
	k := u.s.keys
	return append(out, []key.Binding{k.NextTab, k.PrevTab, k.GotoTab}, []key.Binding{k.Lang, k.Help, k.Quit})
}

// pct is " 42%" of done/total ("" when total is unknown).
func pct(done, total uint64) string {
	if total == 0 {
		return ""
	}
	return fmt.Sprintf(" %d%%", min(done*100/total, 100))
}
