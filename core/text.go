package core

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// The one sanitiser. Every string that enters the ledger, a stored record,
// a form or a CSV file passes one of these:
//
//   - CheckText / CheckLine refuse what a person typed (a clear error,
//     nothing stored): invalid UTF-8, control characters (ESC and so every
//     ANSI escape, C1 controls, DEL), bidirectional overrides, embeddings,
//     isolates and marks, line/paragraph separators, a BOM, every other
//     invisible formatting character (zero-width spaces and joiners, soft
//     hyphen, tag characters U+E0000–E007F, Hangul fillers: Unicode's
//     format and default-ignorable characters), a variation selector that
//     does not follow a character or follows another one (data hidden in
//     selectors), more than maxCombiningMarks combining marks in a row
//     (text smeared over its neighbours), and more than max characters.
//   - CleanText / CleanLine repair text from a party that was refused or may
//     be hostile (a forward destination, an SSH command name, a refused
//     key's address): each forbidden rune or invalid byte is written out
//     visibly as \xNN or \uNNNN, so the evidence survives but nothing
//     reaches a terminal, and the result is cut to max characters.
//   - CSVCell also neutralises formula injection.
//
// Bounds are in characters (runes), never bytes: a Japanese name of 100
// characters is 300 bytes and must not be refused as "too long".

// forbidden reports whether r may not appear in stored or displayed text,
// wherever it stands. Newline and tab are allowed only in multi-line text
// (block). Variation selectors and combining marks depend on what precedes
// them: see textState.
func forbidden(r rune, block bool) bool {
	switch {
	case r == '\n' || r == '\t':
		return !block
	case r < 0x20, r == 0x7f: // C0 (ESC included) and DEL
		return true
	case r >= 0x80 && r < 0xa0: // C1: CSI 0x9b, OSC 0x9d, ...
		return true
	case r < 0xad: // the rest of ASCII and Latin-1 is visible
		return false
	}
	return isBidiOrSeparator(r) || invisible(r)
}

// invisible: format characters (Cf: zero-width space/joiners, soft hyphen,
// word joiner, invisible operators, tag characters) and the other
// default-ignorable code points (Hangul fillers, U+034F, ...). A reader
// sees nothing, so they can hide text ("ASCII smuggling" in tag
// characters) or make two different names look the same.
func invisible(r rune) bool {
	return unicode.In(r, unicode.Cf, unicode.Other_Default_Ignorable_Code_Point)
}

// maxCombiningMarks bounds a run of combining marks: Japanese needs one
// (a decomposed dakuten), Vietnamese two; dozens stacked on one letter
// smear over the lines around it.
const maxCombiningMarks = 4

// textState judges the runes that are allowed only after something: a
// variation selector right after a visible character (an ideographic
// variation selector in a name, an emoji's presentation), never two in a
// row; at most maxCombiningMarks combining marks in a row.
type textState struct {
	base  bool // the previous rune is one a selector may follow
	marks int  // combining marks in a row so far
}

// refuse reports whether r may not stand here, and updates the state.
func (st *textState) refuse(r rune, block bool) bool {
	switch {
	case unicode.Is(unicode.Variation_Selector, r):
		ok := st.base
		st.base, st.marks = false, 0
		return !ok
	case !forbidden(r, block) && unicode.In(r, unicode.Mn, unicode.Me):
		st.marks++
		st.base = false
		return st.marks > maxCombiningMarks
	}
	bad := forbidden(r, block)
	st.base, st.marks = !bad && !unicode.IsSpace(r), 0
	return bad
}

// isBidiOrSeparator: runes that reorder or break the text a reader sees
// without being visible themselves.
func isBidiOrSeparator(r rune) bool {
	switch {
	case r >= 0x202a && r <= 0x202e: // LRE RLE PDF LRO RLO
		return true
	case r >= 0x2066 && r <= 0x2069: // LRI RLI FSI PDI
		return true
	case r == 0x200e, r == 0x200f, r == 0x061c: // LRM RLM ALM
		return true
	case r == 0x2028, r == 0x2029: // line and paragraph separators
		return true
	case r == 0xfeff: // BOM / zero-width no-break space
		return true
	case r >= 0xfff9 && r <= 0xfffb: // interlinear annotation controls
		return true
	}
	return false
}

func describeRune(r rune) string {
	switch {
	case r == 0x1b:
		return "an escape character (U+001B)"
	case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0:
		return fmt.Sprintf("a control character (U+%04X)", r)
	case r == '\n':
		return "a line break"
	case r == '\t':
		return "a tab"
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
		return fmt.Sprintf("a bidirectional text control (U+%04X)", r)
	case r == 0x2028, r == 0x2029:
		return fmt.Sprintf("a line or paragraph separator (U+%04X)", r)
	case r >= 0xe0000 && r <= 0xe007f:
		return fmt.Sprintf("an invisible tag character (U+%04X)", r)
	case unicode.Is(unicode.Variation_Selector, r):
		return fmt.Sprintf("a variation selector that follows no character (U+%04X)", r)
	case unicode.In(r, unicode.Mn, unicode.Me):
		return fmt.Sprintf("more than %d combining marks in a row (U+%04X)", maxCombiningMarks, r)
	}
	return fmt.Sprintf("an invisible formatting character (U+%04X)", r)
}

func checkText(field, v string, max int, block bool) error {
	n := 0
	var st textState
	for i := 0; i < len(v); {
		r, w := utf8.DecodeRuneInString(v[i:])
		if r == utf8.RuneError && w <= 1 {
			return Invalid(field, fmt.Sprintf("not valid UTF-8 (byte %d)", i))
		}
		n++
		if st.refuse(r, block) {
			return Invalid(field, fmt.Sprintf("contains %s at character %d", describeRune(r), n))
		}
		i += w
	}
	if max > 0 && n > max {
		return Invalid(field, fmt.Sprintf("longer than %d characters (%d)", max, n))
	}
	return nil
}

// CheckText refuses multi-line text a person typed (notes, reasons):
// newlines and tabs are allowed, everything forbidden above is not, and
// at most max characters (max <= 0: no bound).
func CheckText(field, v string, max int) error { return checkText(field, v, max, true) }

// CheckLine is CheckText for one-line values (names, places, references):
// no newline or tab either.
func CheckLine(field, v string, max int) error { return checkText(field, v, max, false) }

func cleanText(v string, max int, block bool) string {
	var b strings.Builder
	n := 0
	put := func(s string, runes int) bool {
		if max > 0 && n+runes > max {
			return false
		}
		b.WriteString(s)
		n += runes
		return true
	}
	var st textState
	for i := 0; i < len(v); {
		r, w := utf8.DecodeRuneInString(v[i:])
		var piece string
		switch {
		case r == utf8.RuneError && w <= 1:
			piece = fmt.Sprintf(`\x%02x`, v[i])
			st = textState{}
		case !block && (r == '\n' || r == '\t'):
			piece = " "
			st = textState{}
		case !st.refuse(r, block):
			piece = v[i : i+w]
		case r < 0xa0:
			piece = fmt.Sprintf(`\x%02x`, r)
		case r > 0xffff:
			piece = fmt.Sprintf(`\U%08x`, r)
		default:
			piece = fmt.Sprintf(`\u%04x`, r)
		}
		// Reserve one character for the ellipsis once we might not fit.
		if !put(piece, utf8.RuneCountInString(piece)) {
			out := b.String()
			for max > 0 && utf8.RuneCountInString(out) > max-1 {
				_, sz := utf8.DecodeLastRuneInString(out)
				out = out[:len(out)-sz]
			}
			return out + "…"
		}
		i += w
	}
	return b.String()
}

// CleanText repairs multi-line text from a party that may be hostile:
// newlines and tabs stay, every other forbidden rune and invalid byte is
// written as \xNN / \uNNNN, and the result is at most max characters
// (max <= 0: no bound; a cut is marked with "…").
func CleanText(v string, max int) string { return cleanText(v, max, true) }

// CleanLine is CleanText for one line: newlines and tabs become spaces.
// Use it for anything printed in a table row or a terminal line.
func CleanLine(v string, max int) string { return cleanText(v, max, false) }

// CSVCell makes v safe as a spreadsheet cell: cleaned like CleanText, and
// a cell a spreadsheet would read as a formula (first character after any
// blanks = + - @, or their full-width or small forms; or a leading tab) is
// prefixed with an apostrophe, so it stays text (OWASP "CSV injection").
func CSVCell(v string) string {
	v = CleanText(v, 0)
	t := strings.TrimLeftFunc(v, unicode.IsSpace)
	if t == "" {
		return v
	}
	if strings.HasPrefix(v, "\t") {
		return "'" + v
	}
	r, _ := utf8.DecodeRuneInString(t)
	switch r {
	case '=', '+', '-', '@', '＝', '＋', '－', '＠', '﹦', '﹢', '﹣':
		return "'" + v
	}
	return v
}

// CSVRecord applies CSVCell to every cell.
func CSVRecord(cells []string) []string {
	out := make([]string, len(cells))
	for i, c := range cells {
		out[i] = CSVCell(c)
	}
	return out
}

// Bounds of what one ledger entry can carry, in characters. Callers
// validate people's input against tighter field bounds first; these only
// stop a hostile value that slipped past them from growing the ledger.
const (
	ledgerMaxName    = 200
	ledgerMaxSubject = 1000
	ledgerMaxKey     = 100
	ledgerMaxValue   = 16 << 10
)

// ledgerClean is the ledger's last line of defence (appendEntry): actor
// name, subject and every detail key and value go through CleanText, so
// no entry can carry an escape sequence or a bidi override whatever its
// caller forgot. det is copied only if something changes.
func ledgerClean(actor Actor, subject string, det map[string]string) (Actor, string, map[string]string) {
	actor.Name = CleanLine(actor.Name, ledgerMaxName)
	actor.Fingerprint = CleanLine(actor.Fingerprint, ledgerMaxName)
	subject = CleanLine(subject, ledgerMaxSubject)
	var out map[string]string
	for k, v := range det {
		ck, cv := CleanLine(k, ledgerMaxKey), CleanText(v, ledgerMaxValue)
		if ck == k && cv == v {
			continue
		}
		if out == nil {
			out = make(map[string]string, len(det))
			for k2, v2 := range det {
				out[k2] = v2
			}
		}
		delete(out, k)
		out[ck] = cv
	}
	if out == nil {
		return actor, subject, det
	}
	return actor, subject, out
}

// JSONSafe rewrites encoded JSON so that the runes encoding/json leaves
// raw but a terminal or a text viewer would act on (DEL, C1 controls,
// bidi controls) appear as \uNNNN escapes: the same JSON value, none of
// the payload bytes. Such runes can only occur inside JSON strings.
func JSONSafe(js []byte) []byte {
	var out []byte
	for i := 0; i < len(js); {
		r, w := utf8.DecodeRune(js[i:])
		if r >= 0x7f && forbidden(r, false) {
			if out == nil {
				out = append(make([]byte, 0, len(js)+16), js[:i]...)
			}
			if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
				out = fmt.Appendf(out, `\u%04x\u%04x`, r1, r2) // JSON escapes beyond the BMP as a surrogate pair
			} else {
				out = fmt.Appendf(out, `\u%04x`, r)
			}
		} else if out != nil {
			out = append(out, js[i:i+w]...)
		}
		i += w
	}
	if out == nil {
		return js
	}
	return out
}
