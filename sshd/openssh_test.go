package sshd

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"mimamori/core"
	"mimamori/keys"
)

// TestOpenSSHClient drives the server with the real OpenSSH client, as
// staff and scripts do.
func TestOpenSSHClient(t *testing.T) {
	sshBin, err := exec.LookPath("ssh")
	if err != nil {
		t.Skip("ssh client not installed: " + err.Error())
	}
	f := newFixture(t, nil)
	keyPath := filepath.Join(t.TempDir(), "id_tech")
	line, err := keys.GenerateUserKey(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.EnrollKey(core.SystemActor("test"), "openssh-tech", core.RoleTechnician, line); err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(f.addr, ":")
	sshCmd := func(extra ...string) *exec.Cmd {
		args := []string{"-F", "/dev/null", "-p", port, "-i", keyPath,
			"-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
			"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
			"-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10", host}
		return exec.Command(sshBin, append(args, extra...)...)
	}
	run := func(extra ...string) (string, string, int) {
		c := sshCmd(extra...)
		var out, errb bytes.Buffer
		c.Stdout, c.Stderr = &out, &errb
		err := c.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return out.String(), errb.String(), ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return out.String(), errb.String(), 0
	}

	out, errOut, code := run("whoami")
	if code != 0 || !strings.Contains(out, "openssh-tech") {
		t.Fatalf("whoami: %d %q %q", code, out, errOut)
	}
	out, errOut, code = run("ledger")
	if code != 1 || !strings.Contains(errOut, "forbidden: technician may not ledger.read") || out != "" {
		t.Fatalf("ledger: %d %q %q", code, out, errOut)
	}
	if _, _, code = run("nonsense"); code != 2 {
		t.Fatalf("unknown command exit %d, want 2", code)
	}

	// The console with a forced tty: it draws, "q" quits, exit 0.
	c := sshCmd("-tt")
	stdin, _ := c.StdinPipe()
	var out2 bytes.Buffer
	c.Stdout, c.Stderr = &out2, &out2
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "console drawn", func() bool { return f.srv.Sessions() == 1 })
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	for i := 0; ; i++ {
		_, _ = stdin.Write([]byte("q"))
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("console exit: %v\n%s", err, out2.String())
			}
			if !strings.Contains(out2.String(), "placeholder ready for openssh-tech") {
				t.Fatalf("console output: %q", out2.String())
			}
			return
		case <-time.After(200 * time.Millisecond):
			if i > 50 {
				t.Fatal("console did not quit on q: " + strconv.Quote(out2.String()))
			}
		}
	}
}

// Words reach a command as the user's shell split them: ssh joins its
// arguments with spaces, so a full-width space inside a Japanese name
// must not split it again on the appliance.
func TestOpenSSHWordsAsTheShellSplitThem(t *testing.T) {
	sshBin, err := exec.LookPath("ssh")
	if err != nil {
		t.Skip("ssh client not installed: " + err.Error())
	}
	f := newFixture(t, func(o *Options) {
		o.Commands = append(o.Commands, Command{Name: "args", Run: func(env *Env, args []string) int {
			env.Printf("%s\n", strings.Join(args, "|"))
			return 0
		}})
	})
	keyPath := filepath.Join(t.TempDir(), "id_oper")
	line, err := keys.GenerateUserKey(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.EnrollKey(core.SystemActor("test"), "openssh-oper", core.RoleOperator, line); err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(f.addr, ":")
	out, err := exec.Command(sshBin, "-F", "/dev/null", "-p", port, "-i", keyPath,
		"-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10", host,
		"args", "--from", "山田\u3000太郎", "--note", "'a b'").CombinedOutput()
	if err != nil {
		t.Fatalf("ssh: %v %s", err, out)
	}
	if got, want := strings.TrimSpace(string(out)), "--from|山田\u3000太郎|--note|a b"; got != want {
		t.Errorf("args = %q, want %q", got, want)
	}
}
