package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// binary is the mimamori command, built once by TestMain (the recipient's
// side: `mimamori verify` is a separate program from the appliance).
var mimamoriBin, buildErr = "", error(nil)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mimamori-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	mimamoriBin = filepath.Join(dir, "mimamori")
	cmd := exec.Command("go", "build", "-o", mimamoriBin, "mimamori")
	if out, err := cmd.CombinedOutput(); err != nil {
		buildErr = fmt.Errorf("go build mimamori: %v\n%s", err, out)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// runBinary runs mimamori with args and returns its exit status and
// combined output.
func runBinary(t *testing.T, args ...string) (int, string) {
	t.Helper()
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	out, err := exec.Command(mimamoriBin, args...).CombinedOutput()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	case err != nil:
		t.Fatalf("mimamori %s: %v", strings.Join(args, " "), err)
	}
	return 0, string(out)
}

// verifyWithBinary runs `mimamori verify PKG --identity F --key FP
// --extract DIR` and requires exit 0.
func verifyWithBinary(t *testing.T, pkg, keyFile, fp, dir string) {
	t.Helper()
	code, out := runBinary(t, "verify", pkg, "--identity", keyFile, "--key", fp, "--extract", dir)
	if code != 0 {
		t.Fatalf("mimamori verify: exit %d\n%s", code, out)
	}
}
