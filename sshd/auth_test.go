package sshd

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"mimamori/core"
	"mimamori/keys"
)

func TestUnknownKeyRefusedAndRecorded(t *testing.T) {
	f := newFixture(t, nil)
	stranger, line := newSigner(t)
	fp := gossh.FingerprintSHA256(stranger.PublicKey())

	if c, err := gossh.Dial("tcp", f.addr, clientConfig(gossh.PublicKeys(stranger))); err == nil {
		c.Close()
		t.Fatal("unknown key was let in")
	}
	refused, err := f.store.RefusedKeys(f.manager.actor)
	if err != nil {
		t.Fatal(err)
	}
	var got *core.RefusedKey
	for i := range refused {
		if refused[i].Fingerprint == fp {
			got = &refused[i]
		}
	}
	if got == nil {
		t.Fatalf("refused key %s not recorded; have %+v", fp, refused)
	}
	if !strings.HasPrefix(got.RemoteAddr, "127.0.0.1:") {
		t.Errorf("remote addr = %q, want 127.0.0.1:…", got.RemoteAddr)
	}
	if got.KeyType != gossh.KeyAlgoED25519 || got.AuthorizedKey != line {
		t.Errorf("recorded key = %q %q, want %q", got.KeyType, got.AuthorizedKey, line)
	}
	if got.LastSeen.IsZero() || got.Count < 1 {
		t.Errorf("recorded times/count = %v %d", got.LastSeen, got.Count)
	}
	// No session, so no login entry for the stranger.
	if hasEntry(f.entries(), func(e core.Entry) bool { return e.Actor.Fingerprint == fp }) {
		t.Error("refused key has a ledger entry")
	}
}

func TestPasswordAndKeyboardInteractiveRefused(t *testing.T) {
	f := newFixture(t, nil)
	cases := map[string]gossh.AuthMethod{
		"password": gossh.Password("kanri"),
		"keyboard-interactive": gossh.KeyboardInteractive(func(string, string, []string, []bool) ([]string, error) {
			return []string{"kanri"}, nil
		}),
	}
	for name, m := range cases {
		c, err := gossh.Dial("tcp", f.addr, clientConfig(m))
		if err == nil {
			c.Close()
			t.Fatalf("%s login accepted", name)
		}
		if !strings.Contains(err.Error(), "unable to authenticate") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestRevokedBeforeLoginRefused(t *testing.T) {
	f := newFixture(t, nil)
	if err := f.store.RevokeKey(f.manager.actor, f.oper.actor.Fingerprint, "left the company"); err != nil {
		t.Fatal(err)
	}
	if c, err := f.dial(f.oper); err == nil {
		c.Close()
		t.Fatal("revoked key was let in")
	}
}

func TestHostKeyCreatedOnceUnderDataDir(t *testing.T) {
	dir := t.TempDir()
	st, err := core.Open(filepath.Join(dir, "db"), core.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cwd, _ := os.Getwd()

	s1, err := New(Options{DataDir: dir, Core: st})
	if err != nil {
		t.Fatal(err)
	}
	fp1 := s1.HostKeyFingerprint()
	_ = s1.Close()
	s2, err := New(Options{DataDir: dir, Core: st})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if fp1 == "" || s2.HostKeyFingerprint() != fp1 {
		t.Fatalf("host key changed across restarts: %q then %q", fp1, s2.HostKeyFingerprint())
	}
	if _, err := os.Stat(keys.HostKeyPath(dir)); err != nil {
		t.Fatalf("host key not under data dir: %v", err)
	}
	if _, err := os.Stat(filepath.Join(cwd, "id_ed25519")); err == nil {
		t.Fatal("wish wrote a default host key into the working directory")
	}

	// The client sees exactly that key.
	u := enroll(t, st, "kanri", core.RoleManager)
	l := listen(t, s2)
	var seen string
	cfg := clientConfig(gossh.PublicKeys(u.signer))
	cfg.HostKeyCallback = func(_ string, _ net.Addr, k gossh.PublicKey) error {
		seen = gossh.FingerprintSHA256(k)
		return nil
	}
	c, err := gossh.Dial("tcp", l, cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if seen != fp1 {
		t.Fatalf("client saw host key %s, want %s", seen, fp1)
	}
}

func listen(t *testing.T, s *Server) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l) //nolint:errcheck // ends with Close
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return l.Addr().String()
}

func TestNewRejectsBadOptions(t *testing.T) {
	dir := t.TempDir()
	st, err := core.Open(filepath.Join(dir, "db"), core.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for name, o := range map[string]Options{
		"no core":              {DataDir: dir},
		"no data dir":          {Core: st},
		"bad lang":             {DataDir: dir, Core: st, Lang: "fr"},
		"dup-free bad command": {DataDir: dir, Core: st, Commands: []Command{{Name: "two words", Run: func(*Env, []string) int { return 0 }}}},
	} {
		if s, err := New(o); err == nil {
			s.Close()
			t.Errorf("%s: New accepted it", name)
		}
	}
}
