package appliance

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"mimamori/core"
)

// The console over a real SSH connection, as `mimamori serve` wires it:
// the manager records where the recorder is kept on the Maintenance tab
// (000 §7-3, 001 §5-1), and the layout-plan view shows the exact ssh
// command line for this appliance, port and user. Core stores and
// ledgers the custody record.
func TestConsoleRecordsCustodyOverSSH(t *testing.T) {
	cfg := testConfig(t)
	cfg.Lang = "en"
	log := slog.New(slog.DiscardHandler)
	app, err := Open(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := ssh.NewSignerFromKey(priv)
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
	mgr, err := app.Store.EnrollPerson(core.SystemActor("bootstrap"), core.Enrolment{Name: "Yamada Taro", Role: core.RoleManager,
		AuthorizedKey: line, JobTitle: "chief", Section: "crisis management", Pledged: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	run, err := app.Start(ctx, log)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	defer func() { cancel(); run.Stop(log) }()

	addr := run.SSHAddr().String()
	client, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{User: "kanri", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if err := sess.RequestPty("xterm-256color", 30, 140, ssh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	in, err := sess.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	scr := &screen{seen: make(chan struct{}, 1), reply: in}
	sess.Stdout = scr
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	step := func(send, want string) {
		t.Helper()
		scr.reset()
		if send != "" {
			if _, err := io.WriteString(in, send); err != nil {
				t.Fatal(err)
			}
		}
		if !scr.waitFor(want, 15*time.Second) {
			t.Fatalf("after %q the console did not draw %q; it drew:\n%s", send, want, scr.tail())
		}
	}
	step("", "7 Maintenance")
	step("7", "Warnings(")
	step("l", "[Inspections]")
	step("l", "No custody record")
	step("c", "Custody of the recorder")
	// Fields are typed one after the other; tab moves on, C-s submits.
	step("Server room 3F\tRack cabinet B\tYamada Taro\tbolted to the floor\x13", "Recorded custody: Server room 3F")

	_, port, _ := net.SplitHostPort(addr)
	step("l", "layout add --site SITE")
	if want := "ssh -p " + port + " kanri@127.0.0.1 layout add"; !scr.waitFor(want, 5*time.Second) {
		t.Errorf("the plans view lacks %q:\n%s", want, scr.tail())
	}
	_, _ = io.WriteString(in, "q")

	recs, err := app.Store.Custody(mgr.Actor())
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Location != "Server room 3F" || recs[0].Cabinet != "Rack cabinet B" ||
		recs[0].KeyHolder != "Yamada Taro" || recs[0].AntiRemoval != "bolted to the floor" || recs[0].CreatedBy != "Yamada Taro" {
		t.Fatalf("custody records %+v", recs)
	}
	es, err := app.Store.Ledger(mgr.Actor(), 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, e := range es {
		if e.Action == core.ActionCustody && e.Subject == recs[0].ID && e.Actor.Fingerprint == mgr.Fingerprint &&
			e.Details["location"] == "Server room 3F" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no custody.record entry by the manager for %s", recs[0].ID)
	}
}

// tail is the last part of what the console drew, for a failure message.
func (s *screen) tail() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.text.String()
	if len(t) > 3000 {
		t = t[len(t)-3000:]
	}
	return t
}
