package core

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// The payloads a hostile party has tried: an OSC title change with a
// screen clear, a right-to-left override, isolates, a C1 CSI, invalid
// UTF-8 and a formula.
var hostileTexts = []string{
	"\x1b]0;PWNED\x07\x1b[2J",
	"invoice\u202efdp.exe",
	"a\u2066b\u2069c",
	"x\u009b31mred",
	"bad\xffbyte",
	"line\u2028break",
	"\u200fmark",
	"del\x7f",
}

// payloadRunes are what must never survive into stored or shown text.
func hasPayload(s string) bool {
	if !utf8.ValidString(s) {
		return true
	}
	for _, r := range s {
		if r == 0x1b || r == 0x07 || r == 0x7f || (r >= 0x80 && r < 0xa0) || isBidiOrSeparator(r) {
			return true
		}
	}
	return false
}

func TestCheckTextRefusesEveryPayload(t *testing.T) {
	for _, p := range hostileTexts {
		err := CheckText("note", p, 0)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != "note" {
			t.Errorf("CheckText(%q) = %v, want a FieldError for note", p, err)
		}
		if err := CheckLine("name", p, 0); err == nil {
			t.Errorf("CheckLine(%q) accepted it", p)
		}
	}
	// Real text passes: Japanese, newlines and tabs in notes.
	if err := CheckText("note", "東京都千代田区\n\t二行目 — “quoted”", 23); err != nil {
		t.Fatal(err)
	}
	if err := CheckLine("name", "管理 太郎", 5); err != nil {
		t.Fatal(err)
	}
	if err := CheckLine("name", "a\nb", 0); err == nil {
		t.Fatal("CheckLine accepted a newline")
	}
}

// Bounds count characters: 100 kanji are 300 bytes and fit a 100 bound.
func TestTextBoundsAreCharacters(t *testing.T) {
	kanji := strings.Repeat("監", 100)
	if err := CheckLine("name", kanji, 100); err != nil {
		t.Fatalf("100 characters refused by a 100-character bound: %v", err)
	}
	if err := CheckLine("name", kanji+"x", 100); err == nil || !strings.Contains(err.Error(), "100 characters") {
		t.Fatalf("101 characters: %v", err)
	}
	c := CleanLine(strings.Repeat("監", 500), 10)
	if n := utf8.RuneCountInString(c); n != 10 || !strings.HasSuffix(c, "…") {
		t.Fatalf("CleanLine cut to %d characters: %q", n, c)
	}
	// A cut never splits an escape nor exceeds the bound.
	c = CleanLine(strings.Repeat("\u202e", 50), 20)
	if utf8.RuneCountInString(c) > 20 || hasPayload(c) {
		t.Fatalf("cut escapes: %q", c)
	}
}

func TestCleanKeepsEvidenceAndDropsPayload(t *testing.T) {
	for _, p := range hostileTexts {
		for _, c := range []string{CleanText(p, 0), CleanLine(p, 0), CSVCell(p)} {
			if hasPayload(c) {
				t.Errorf("clean(%q) = %q still carries the payload", p, c)
			}
		}
	}
	if got := CleanLine("\x1b]0;PWNED\x07", 0); got != `\x1b]0;PWNED\x07` {
		t.Fatalf("escape not shown visibly: %q", got)
	}
	if got := CleanLine("a\u202eb", 0); got != `a\u202eb` {
		t.Fatalf("RLO not shown visibly: %q", got)
	}
	if got := CleanText("a\nb\tc", 0); got != "a\nb\tc" {
		t.Fatalf("CleanText changed a note's lines: %q", got)
	}
	if got := CleanLine("a\nb\tc", 0); got != "a b c" {
		t.Fatalf("CleanLine kept line breaks: %q", got)
	}
	if got := CleanLine("plain 日本語", 0); got != "plain 日本語" {
		t.Fatalf("clean text changed: %q", got)
	}
}

func TestCSVCellNeutralisesFormulas(t *testing.T) {
	for in, want := range map[string]string{
		"=HYPERLINK(\"http://x\")": "'=HYPERLINK(\"http://x\")",
		"+1":                       "'+1",
		"-2+3":                     "'-2+3",
		"@SUM(A1)":                 "'@SUM(A1)",
		"  =1":                     "'  =1",
		"\t=1":                     "'\t=1",
		"＝1":                       "'＝1",
		"ok=1":                     "ok=1",
		"2026-01-01T00:00:00Z":     "2026-01-01T00:00:00Z",
		"":                         "",
	} {
		if got := CSVCell(in); got != want {
			t.Errorf("CSVCell(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestJSONSafe(t *testing.T) {
	in := map[string]string{"d": "a\u202eb\u0085c\x7fd\u2066"}
	raw, _ := json.Marshal(in)
	out := JSONSafe(raw)
	if hasPayload(string(out)) {
		t.Fatalf("payload in %q", out)
	}
	var back map[string]string
	if err := json.Unmarshal(out, &back); err != nil || back["d"] != in["d"] {
		t.Fatalf("JSONSafe changed the value: %q %v", back["d"], err)
	}
}

// The ledger is the last line of defence: a caller that forgets to clean
// still cannot store an escape, and the chain still verifies.
func TestLedgerCleansEverything(t *testing.T) {
	s, _, _ := newTestStore(t, CityStandard())
	m := manager
	if err := s.RecordForwardRefused(m, "\x1b]0;PWNED\x07\x1b[2J:80"); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordSession(m, ActionLogin, "127.0.0.1:1", map[string]string{"command\u202e": "x\x1b[2J", "n": strings.Repeat("y", 100000)}); err != nil {
		t.Fatal(err)
	}
	entries, err := s.Ledger(m, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if hasPayload(e.Subject) || hasPayload(e.Actor.Name) {
			t.Fatalf("entry %d subject %q", e.Seq, e.Subject)
		}
		for k, v := range e.Details {
			if hasPayload(k) || hasPayload(v) || utf8.RuneCountInString(v) > ledgerMaxValue {
				t.Fatalf("entry %d detail %q=%.40q…", e.Seq, k, v)
			}
		}
	}
	var out bytes.Buffer
	if err := s.ExportLedgerCSV(m, &out, ShowAll); err != nil {
		t.Fatal(err)
	}
	if hasPayload(out.String()) {
		t.Fatal("payload in the CSV")
	}
	rows, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rows {
		for _, c := range row {
			if c != "" && strings.ContainsRune("=+-@", rune(c[0])) {
				t.Fatalf("formula cell %q", c)
			}
		}
	}
	rep, err := s.VerifyLedger(m)
	if err != nil || !rep.OK {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}
