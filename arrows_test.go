package main

import (
	"go/build"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The import arrows docs/design.md draws ("Shape and arrows"): each
// package and the mimamori packages it must never reach, directly or
// through another package.
var forbiddenArrows = map[string][]string{
	"core":              {"tui", "sshd", "recorder", "appliance", "keys", "forms", "metrics"},
	"tui":               {"sshd", "recorder", "appliance", "metrics"},
	"sshd":              {"tui", "recorder", "appliance", "metrics"},
	"keys":              {"tui", "sshd", "recorder", "appliance"},
	"forms":             {"tui", "sshd", "recorder", "appliance"},
	"metrics":           {"tui", "recorder", "appliance"},
	"recorder":          {"tui", "sshd", "appliance", "metrics", "keys", "forms"},
	"recorder/ring":     {"tui", "sshd", "appliance", "recorder", "recorder/ingest"},
	"recorder/ingest":   {"tui", "sshd", "appliance", "recorder", "recorder/ring"},
	"recorder/playback": {"tui", "sshd", "appliance"},
	"recorder/export":   {"tui", "sshd", "appliance"},
}

// TestPackageArrows fails when a package reaches one it must not: the
// recorder knows nothing of SSH or screens, sshd reaches the recorder
// only through its own small interfaces, core depends on none of them.
func TestPackageArrows(t *testing.T) {
	deps := map[string][]string{} // package -> the mimamori packages it reaches
	var reach func(pkg string) []string
	reach = func(pkg string) []string {
		if d, ok := deps[pkg]; ok {
			return d
		}
		deps[pkg] = nil // an import cycle does not compile; this only stops recursion
		bp, err := build.ImportDir(filepath.FromSlash(pkg), 0)
		if err != nil {
			t.Fatalf("%s: %v", pkg, err)
		}
		var out []string
		for _, imp := range bp.Imports {
			sub, ok := strings.CutPrefix(imp, "mimamori/")
			if !ok {
				continue
			}
			out = append(out, sub)
			out = append(out, reach(sub)...)
		}
		slices.Sort(out)
		out = slices.Compact(out)
		deps[pkg] = out
		return out
	}
	for pkg, never := range forbiddenArrows {
		got := reach(pkg)
		if len(got) == 0 && pkg != "core" {
			t.Errorf("%s imports no mimamori package: is the table out of date?", pkg)
		}
		for _, n := range never {
			if slices.Contains(got, n) {
				t.Errorf("%s reaches %s (imports, transitively: %v)", pkg, n, got)
			}
		}
	}
}
