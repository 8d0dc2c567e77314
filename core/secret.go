package core

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The policy for every secret a person chooses (the export passphrase, a
// package secret typed instead of generated): long enough, not one
// character repeated or a run like "abcdef…", and not a common password
// with a few digits or symbols around it. Generated secrets need none of
// this; people's choices do.
const (
	MinSecretChars  = 12
	maxSecretBytes  = 1024
	minSecretDistin = 5 // different characters
)

// commonSecrets are passwords every guessing list starts with (lower case,
// digits and punctuation around them stripped before the lookup), plus
// the appliance's own words.
var commonSecrets = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`
password passwort passw0rd p@ssword p@ssw0rd pass secret letmein welcome admin administrator
root toor qwerty qwertyuiop asdfgh asdfghjkl zxcvbn zxcvbnm azerty iloveyou monkey dragon
master shadow sunshine princess football baseball soccer hockey superman batman trustno
starwars whatever freedom michael jennifer jordan hunter ranger buster thomas robert
charlie daniel jessica pepper summer winter spring autumn flower cookie cheese computer
internet login abc abcdef abcdefg abcdefgh changeme default guest test tester testing
hello hellohello mypassword yourpassword nopassword access passport security
camera cameras mimamori export exports manager operator footage recorder video
police keisatsu himitsu pasuwado anshin bouhan kanri kanrisha
yotsukaido chiba tokyo japan nippon nihon sakura tanaka suzuki sato takahashi watanabe
`) {
		m[w] = true
	}
	return m
}()

// CheckSecret refuses a human-chosen secret that fails the policy, with
// the reason. field names it in the error (e.g. "passphrase").
func CheckSecret(field string, secret []byte) error {
	if len(secret) > maxSecretBytes {
		return Invalid(field, fmt.Sprintf("longer than %d bytes", maxSecretBytes))
	}
	if !utf8.Valid(secret) {
		return Invalid(field, "not valid UTF-8")
	}
	s := string(secret)
	n := utf8.RuneCountInString(s)
	if n < MinSecretChars {
		return Invalid(field, fmt.Sprintf("at least %d characters (a few words make a good one)", MinSecretChars))
	}
	distinct := map[rune]bool{}
	for _, r := range s {
		distinct[unicode.ToLower(r)] = true
	}
	if len(distinct) < minSecretDistin {
		return Invalid(field, fmt.Sprintf("uses only %d different characters", len(distinct)))
	}
	if isRun(s) {
		return Invalid(field, "is a run of consecutive characters")
	}
	core := strings.ToLower(strings.TrimFunc(s, func(r rune) bool { return !unicode.IsLetter(r) }))
	if commonSecrets[core] || commonSecrets[strings.ReplaceAll(core, " ", "")] || repeatsCommon(core) {
		return Invalid(field, "is a common password (or one with digits or symbols added)")
	}
	return nil
}

// isRun: every character is the previous one plus or minus one
// ("abcdefghijkl", "987654321098" is not, "123456789012" is mostly).
func isRun(s string) bool {
	var prev rune
	steps, same := 0, 0
	for i, r := range []rune(s) {
		if i > 0 {
			steps++
			if d := r - prev; d == 1 || d == -1 || (d == -9 && prev == '9') {
				same++
			}
		}
		prev = r
	}
	return steps > 0 && same*10 >= steps*8
}

// repeatsCommon: a common word repeated ("passwordpassword").
func repeatsCommon(s string) bool {
	for w := range commonSecrets {
		if len(w) >= 4 && len(s) > len(w) && len(s)%len(w) == 0 && strings.Repeat(w, len(s)/len(w)) == s {
			return true
		}
	}
	return false
}
