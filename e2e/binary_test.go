package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"mimamori/recorder/export"
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

// verifyWithBinary runs `mimamori verify PKG --passphrase-file F --extract
// DIR`. Until the CLI's verify is wired (it says "not available yet") the
// export package's Verify does the same in-process, and the test says so.
func verifyWithBinary(t *testing.T, pkg, passFile, dir string) {
	t.Helper()
	code, out := runBinary(t, "verify", pkg, "--passphrase-file", passFile, "--extract", dir)
	if code == 0 {
		return
	}
	if !strings.Contains(out, "not available yet") {
		t.Fatalf("mimamori verify: exit %d\n%s", code, out)
	}
	t.Log("MISSING: `mimamori verify` is not wired in the CLI yet; verified with recorder/export.Verify in-process")
	pass, err := os.ReadFile(passFile)
	if err != nil {
		t.Fatal(err)
	}
	id, err := age.NewScryptIdentity(string(bytes.TrimRight(pass, "\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(pkg)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := export.Verify(f, []age.Identity{id}, dir)
	if err != nil || !rep.Intact {
		t.Fatalf("verify: %v %+v", err, rep)
	}
}

// binaryVerifies reports whether the CLI's verify is wired.
func binaryVerifies(t *testing.T) bool {
	t.Helper()
	_, out := runBinary(t, "verify", filepath.Join(t.TempDir(), "none"), "--passphrase-file", "/dev/null")
	return !strings.Contains(out, "not available yet")
}
