package tui

import "github.com/charmbracelet/bubbles/key"

// KeyMap holds every binding of the console. Pages pick theirs for help.
type KeyMap struct {
	Quit     key.Binding
	NextTab  key.Binding
	PrevTab  key.Binding
	GotoTab  key.Binding
	Lang     key.Binding
	Help     key.Binding
	Up       key.Binding
	Down     key.Binding
	PageUp   key.Binding
	PageDown key.Binding
	Top      key.Binding
	Bottom   key.Binding
	Open     key.Binding
	Back     key.Binding
	Filter   key.Binding
	Focus    key.Binding
	Enroll   key.Binding
	Paste    key.Binding
	Role     key.Binding
	Revoke   key.Binding
	Confirm  key.Binding
	Cancel   key.Binding
	Submit   key.Binding

	// Requests, holds and viewing.
	New         key.Binding
	Instruct    key.Binding
	Result      key.Binding
	Approve     key.Binding
	Deny        key.Binding
	Export      key.Binding
	Provide     key.Binding
	CloseReq    key.Binding
	View        key.Binding
	HoldAdd     key.Binding
	HoldRelease key.Binding
	HoldList    key.Binding
	NextField   key.Binding
	PrevField   key.Binding
	Save        key.Binding
	Toggle      key.Binding
	RemoveCam   key.Binding // the manager's removal of a camera (001 §8-2)
	Protect     key.Binding // what an approved request's package is encrypted to

	// The register's records (people, signs, police, custody, inspections).
	Profile  key.Binding // 職名 and 所属 of a key
	Pledge   key.Binding // the confidentiality pledge of a key
	Handover key.Binding // the manager hands the role over
	Sign     key.Binding // a sign posted or removed
	Police   key.Binding // the police consultation date
	Custody  key.Binding // where the recorder is kept
	Inspect  key.Binding // an inspection done
	Dispose  key.Binding // a storage medium disposed of
	ViewPrev key.Binding // the upkeep tab's views
	ViewNext key.Binding
	Sheet    key.Binding // print a key sheet instead of writing the secret down

	// Ledger.
	Classes   key.Binding
	Older     key.Binding
	Newer     key.Binding
	VerifyAll key.Binding
}

// newKeyMap builds the bindings with help text in the session language.
func newKeyMap(t func(string) string) KeyMap {
	b := func(keys []string, label, desc string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(label, t(desc)))
	}
	return KeyMap{
		Quit:     b([]string{"q", "ctrl+c"}, "q", "key.quit"),
		NextTab:  b([]string{"tab"}, "tab", "key.next"),
		PrevTab:  b([]string{"shift+tab"}, "S-tab", "key.prev"),
		GotoTab:  b([]string{"1", "2", "3", "4", "5", "6", "7"}, "1-7", "key.goto"),
		Lang:     b([]string{"L"}, "L", "key.lang"),
		Help:     b([]string{"?"}, "?", "key.help"),
		Up:       b([]string{"up", "k"}, "k/up", "key.up"),
		Down:     b([]string{"down", "j"}, "j/down", "key.down"),
		PageUp:   b([]string{"pgup"}, "pgup", "key.pgup"),
		PageDown: b([]string{"pgdown", " "}, "pgdn", "key.pgdown"),
		Top:      b([]string{"home", "g"}, "g", "key.top"),
		Bottom:   b([]string{"end", "G"}, "G", "key.bottom"),
		Open:     b([]string{"enter"}, "enter", "key.open"),
		Back:     b([]string{"esc"}, "esc", "key.back"),
		Filter:   b([]string{"/"}, "/", "key.filter"),
		Focus:    b([]string{"left", "right", "h", "l"}, "h/l", "key.focus"),
		Enroll:   b([]string{"e"}, "e", "key.enroll"),
		Paste:    b([]string{"a"}, "a", "key.paste"),
		Role:     b([]string{"r"}, "r", "key.role"),
		Revoke:   b([]string{"x"}, "x", "key.revoke"),
		Confirm:  b([]string{"y"}, "y", "key.confirm"),
		Cancel:   b([]string{"esc", "n"}, "esc", "key.cancel"),
		Submit:   b([]string{"enter"}, "enter", "key.submit"),

		New:         b([]string{"n"}, "n", "key.new"),
		Instruct:    b([]string{"i"}, "i", "key.instruct"),
		Result:      b([]string{"r"}, "r", "key.result"),
		Approve:     b([]string{"a"}, "a", "key.approve"),
		Deny:        b([]string{"d"}, "d", "key.deny"),
		Export:      b([]string{"x"}, "x", "key.export"),
		Provide:     b([]string{"p"}, "p", "key.provide"),
		CloseReq:    b([]string{"c"}, "c", "key.close"),
		View:        b([]string{"v"}, "v", "key.view"),
		HoldAdd:     b([]string{"h"}, "h", "key.holdadd"),
		HoldRelease: b([]string{"R"}, "R", "key.holdrelease"),
		HoldList:    b([]string{"H"}, "H", "key.holdlist"),
		NextField:   b([]string{"tab", "down"}, "tab", "key.nextfield"),
		PrevField:   b([]string{"shift+tab", "up"}, "S-tab", "key.prevfield"),
		Save:        b([]string{"ctrl+s"}, "C-s", "key.save"),
		Toggle:      b([]string{" "}, "space", "key.toggle"),
		RemoveCam:   b([]string{"x"}, "x", "key.removecam"),
		Protect:     b([]string{"K"}, "K", "key.protect"),

		Profile:  b([]string{"t"}, "t", "key.profile"),
		Pledge:   b([]string{"p"}, "p", "key.pledge"),
		Handover: b([]string{"o"}, "o", "key.handover"),
		Sign:     b([]string{"s"}, "s", "key.sign"),
		Police:   b([]string{"c"}, "c", "key.police"),
		Custody:  b([]string{"c"}, "c", "key.custody"),
		Inspect:  b([]string{"i"}, "i", "key.inspect"),
		Dispose:  b([]string{"d"}, "d", "key.dispose"),
		ViewPrev: b([]string{"left", "h"}, "h/←", "key.viewprev"),
		ViewNext: b([]string{"right", "l"}, "l/→", "key.viewnext"),
		Sheet:    b([]string{"ctrl+p"}, "C-p", "key.sheet"),

		Classes:   b([]string{"m"}, "m", "key.classes"),
		Older:     b([]string{"]"}, "]", "key.older"),
		Newer:     b([]string{"["}, "[", "key.newer"),
		VerifyAll: b([]string{"V"}, "V", "key.verifyall"),
	}
}
