package sshd

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestSplitCommandLine(t *testing.T) {
	for in, want := range map[string][]string{
		`whoami`: {"whoami"},
		`  request  new --agency "Chiba Police" x `: {"request", "new", "--agency", "Chiba Police", "x"},
		`hold add --reason 'a "b" c'`:               {"hold", "add", "--reason", `a "b" c`},
		`a "say \"hi\" \\ \n"`:                      {"a", `say "hi" \ \n`},
		`a\ b c`:                                    {"a b", "c"},
		`note --note ""`:                            {"note", "--note", ""},
		`x"y"'z'`:                                   {"xyz"},
		"日本 語":                                      {"日本", "語"},
		// Only ASCII blanks separate, as in a POSIX shell: a full-width
		// space in a Japanese name, a no-break space or a line separator
		// stays inside its word (the client's shell did not split there).
		"--from 山田\u3000太郎":      {"--from", "山田\u3000太郎"},
		"a\u00a0b\u2028c\u0085d": {"a\u00a0b\u2028c\u0085d"},
		"a\tb\nc\rd\ve\ff":       {"a", "b", "c", "d", "e", "f"},
	} {
		got, err := splitCommandLine(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("split(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for in, want := range map[string]error{
		`a "b`:                                errCmdUnclosed,
		`a 'b`:                                errCmdUnclosed,
		`a \`:                                 errCmdTrailing,
		"a \xff":                              errCmdNotUTF8,
		strings.Repeat("x", MaxCommandLine+1): errCmdTooLong,
		strings.Repeat("x ", maxArgs+1):       errCmdTooManyAr,
	} {
		if _, err := splitCommandLine(in); !errors.Is(err, want) {
			t.Errorf("split(%.20q…) = %v, want %v", in, err, want)
		}
	}
}

// The splitter is linear: a command line at the bound, of quotes, escapes
// and words, costs a few allocations per argument, never one per character.
func BenchmarkSplitCommandLine(b *testing.B) {
	word := `"ab\"c" d\ e` + strings.Repeat("f", MaxCommandLine/(maxArgs/2)) + ` `
	line := strings.Repeat(word, MaxCommandLine/len(word))
	b.SetBytes(int64(len(line)))
	for i := 0; i < b.N; i++ {
		if _, err := splitCommandLine(line); err != nil {
			b.Fatal(err)
		}
	}
}

// The longest real command fits: request new with each of its five free
// texts at core's bound (4000 characters, core/requests.go) in Japanese,
// three bytes a character, quoted as a shell would pass it.
func TestLongestRealCommandFits(t *testing.T) {
	text := "'" + strings.Repeat("捜査関係事項照会", 500) + "'" // 4000 characters
	line := "request new --agency '千葉県警察' --officer '警部補 山田　太郎' --purpose other" +
		" --reason " + text + " --ground other --ground-note " + text + " --notes " + text +
		" --written-ref " + text + " --consent " + text +
		" --cameras cam1,cam2,cam3 --from 2026-11-23T10:00:00+09:00 --to 2026-11-23T10:05:00+09:00"
	args, err := splitCommandLine(line)
	if err != nil {
		t.Fatalf("a %d-byte real command refused: %v", len(line), err)
	}
	if len(args) != 26 {
		t.Errorf("%d arguments", len(args))
	}
}
