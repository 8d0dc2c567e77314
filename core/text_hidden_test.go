package core

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// Text that hides, disguises or smears what a reader sees, by Unicode
// category. Each must be refused from people, shown visibly when cleaned,
// and escaped in JSON; the real text next to it must pass.
var hiddenTexts = map[string]string{
	"zero-width space":                        "cam\u200b1",
	"zero-width non-joiner":                   "a\u200cb",
	"zero-width joiner":                       "a\u200db",
	"word joiner":                             "a\u2060b",
	"invisible operator":                      "a\u2062b",
	"soft hyphen":                             "ad\u00admin",
	"Mongolian vowel separator":               "a\u180eb",
	"Arabic letter mark":                      "a\u061cb",
	"tag characters (ASCII smuggling)":        "ok\U000E0001\U000E0069\U000E0067\U000E006E\U000E006F\U000E0072\U000E0065\U000E007F",
	"Hangul filler (a blank name)":            "\u3164",
	"halfwidth Hangul filler":                 "a\uffa0b",
	"combining grapheme joiner":               "a\u034fb",
	"variation selector run (data smuggling)": "x\ufe00\ufe01\ufe02\ufe03",
	"ideographic variation selector run":      "葛\U000E0100\U000E0101",
	"variation selector at the start":         "\ufe0fx",
	"combining mark flood (zalgo)":            "a" + strings.Repeat("\u0301", 40) + "b",
	"line separator":                          "a\u2028b",
	"paragraph separator":                     "a\u2029b",
	"next line (NEL)":                         "a\u0085b",
	"interlinear annotation":                  "a\ufff9b\ufffac\ufffb",
	"object replacement in a tag block":       "a\U000E0020b",
}

// Real text of the kind people type: a kanji with its ideographic
// variation selector (異体字 in names), an emoji with its presentation
// selector, decomposed kana and Vietnamese, ZWJ-free Japanese.
var realTexts = []string{
	"葛\U000E0100飾区",
	"❤\ufe0f ok",
	"か\u3099",            // が, decomposed
	"Nguye\u0302\u0303n", // two stacked marks
	"山田　太郎",              // ideographic space
	"東京都千代田区 1-2-3",
}

// visible reports whether every rune of s is one a reader sees (or plain
// space), with no run of variation selectors or combining marks.
func visible(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	marks, vs := 0, 0
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Variation_Selector, r):
			if vs++; vs > 1 {
				return false
			}
			continue
		case unicode.In(r, unicode.Mn, unicode.Me):
			if marks++; marks > maxCombiningMarks {
				return false
			}
			continue
		}
		marks, vs = 0, 0
		if unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp, unicode.Other_Default_Ignorable_Code_Point) || unicode.IsControl(r) {
			return false
		}
	}
	return true
}

func TestSanitiserCoversHiddenText(t *testing.T) {
	for name, p := range hiddenTexts {
		if err := CheckLine("name", p, 0); err == nil {
			t.Errorf("%s: CheckLine accepted %+q", name, p)
		}
		if err := CheckText("note", p, 0); err == nil {
			t.Errorf("%s: CheckText accepted %+q", name, p)
		}
		for _, c := range []string{CleanLine(p, 0), CleanText(p, 0), CSVCell(p)} {
			if !visible(c) {
				t.Errorf("%s: cleaned %+q still hides text: %+q", name, p, c)
			}
		}
		raw, _ := json.Marshal(map[string]string{"v": p})
		var back map[string]string
		if out := JSONSafe(raw); json.Unmarshal(out, &back) != nil || back["v"] != p {
			t.Errorf("%s: JSONSafe changed the value", name)
		} else if strings.ContainsAny(string(out), "\u200b\u200d\u2060\u00ad\u3164") || strings.ContainsRune(string(out), 0xE0069) {
			t.Errorf("%s: JSON carries the invisible rune raw: %+q", name, out)
		}
	}
	for _, r := range realTexts {
		if err := CheckLine("name", r, 0); err != nil {
			t.Errorf("real text %+q refused: %v", r, err)
		}
		if c := CleanLine(r, 0); c != r {
			t.Errorf("real text %+q changed by cleaning: %+q", r, c)
		}
	}
	// The refusal names what was found.
	if err := CheckLine("name", hiddenTexts["tag characters (ASCII smuggling)"], 0); err == nil || !strings.Contains(err.Error(), "U+E0001") {
		t.Errorf("tag refusal: %v", err)
	}
	if err := CheckLine("name", hiddenTexts["combining mark flood (zalgo)"], 0); err == nil || !strings.Contains(err.Error(), "combining") {
		t.Errorf("zalgo refusal: %v", err)
	}
}

// A spreadsheet reads a cell as a formula whatever blank comes first; the
// full-width and small forms of = + - @ count too.
func TestCSVCellFormulaLookalikes(t *testing.T) {
	for _, in := range []string{"\u3000=1+1", "\n=cmd|' /C calc'!A0", " \t@SUM(A1)", "﹦1", "﹢1", "﹣1", "＠x", "－1", "＋1"} {
		if got := CSVCell(in); !strings.HasPrefix(got, "'") {
			t.Errorf("CSVCell(%+q) = %+q: not neutralised", in, got)
		}
	}
}
