package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestDemo runs the demo as a new user would, logs in with each printed
// key over real SSH and checks who the console says they are.
func TestDemo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	sshAddr, rtspAddr := freePort(t), freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"demo", "--data", dir, "--listen", sshAddr, "--rtsp", rtspAddr, "--capacity", "256MiB"}, &out, &errOut)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "Ctrl-C") {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("demo printed no login lines in 30 s:\nstdout: %s\nstderr: %s", out.String(), errOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, role := range []string{"manager", "operator", "technician"} {
		keyPath := filepath.Join(dir, "keys", role)
		if !strings.Contains(out.String(), "-i "+keyPath) {
			t.Errorf("no ssh line for %s in:\n%s", role, out.String())
		}
		pem, err := os.ReadFile(keyPath)
		if err != nil {
			t.Fatal(err)
		}
		signer, err := ssh.ParsePrivateKey(pem)
		if err != nil {
			t.Fatal(err)
		}
		client, err := ssh.Dial("tcp", sshAddr, &ssh.ClientConfig{
			User: role, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
			HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second,
		})
		if err != nil {
			t.Fatalf("%s: ssh: %v", role, err)
		}
		sess, err := client.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		got, err := sess.Output("whoami --lang en")
		client.Close()
		if err != nil {
			t.Fatalf("%s: whoami: %v", role, err)
		}
		if !strings.Contains(string(got), role) {
			t.Errorf("%s: whoami says %q", role, got)
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("demo exited %d: %s", code, errOut.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("demo did not stop within 20 s of Ctrl-C")
	}
}
