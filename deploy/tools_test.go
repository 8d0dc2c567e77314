package deploy

import (
	"os/exec"
	"strings"
	"testing"
)

// tool returns the path of a command a test needs, or skips the test
// saying why (CI installs them: .ci/run).
func tool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed (Debian package %s; .ci/run installs it): %v", name, pkg, err)
	}
	return p
}

// run runs a command and returns its combined output and whether it
// exited 0.
func run(t *testing.T, dir, name string, args ...string) (string, bool) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
		}
		return string(out), false
	}
	return string(out), true
}
