package keys

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"mimamori/core"
)

func newPub(t *testing.T) ssh.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pk
}

func TestParseAuthorizedKey(t *testing.T) {
	pk := newPub(t)
	line := AuthorizedLine(pk, "alice@desk")
	got, comment, err := ParseAuthorizedKey([]byte("  " + line + "\n"))
	if err != nil || comment != "alice@desk" || Fingerprint(got) != Fingerprint(pk) {
		t.Fatalf("got %v %q %v", got, comment, err)
	}
	if !strings.HasPrefix(Fingerprint(pk), "SHA256:") {
		t.Errorf("fingerprint %q", Fingerprint(pk))
	}
	for _, bad := range []string{"", "   \n", "ssh-ed25519 notbase64!!", "hello world",
		line + "\n" + AuthorizedLine(newPub(t), "bob")} {
		if _, _, err := ParseAuthorizedKey([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

type fakeLookup map[string]core.Key

func (f fakeLookup) LookupKey(fp string) (core.Key, error) {
	k, ok := f[fp]
	if !ok {
		return core.Key{}, fmt.Errorf("%w: key %q", core.ErrNotFound, fp)
	}
	return k, nil
}

func TestResolve(t *testing.T) {
	alice, mallory, eve := newPub(t), newPub(t), newPub(t)
	lk := fakeLookup{
		Fingerprint(alice): {Fingerprint: Fingerprint(alice), Name: "alice", Role: core.RoleOperator, PublicKey: AuthorizedLine(alice, "")},
		// Stored under eve's fingerprint but holding mallory's key: must not resolve.
		Fingerprint(eve): {Fingerprint: Fingerprint(eve), Name: "eve", Role: core.RoleManager, PublicKey: AuthorizedLine(mallory, "")},
	}
	r := Resolver{Keys: lk}
	a, err := r.Resolve(alice)
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "alice" || a.Role != core.RoleOperator || a.Fingerprint != Fingerprint(alice) {
		t.Errorf("actor = %+v", a)
	}
	if _, err := r.Resolve(mallory); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("unenrolled key: %v", err)
	}
	if _, err := r.Resolve(eve); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("mismatched stored key: %v", err)
	}
	if _, err := r.Resolve(nil); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("nil key: %v", err)
	}
	if _, err := (Resolver{}).Resolve(alice); err == nil {
		t.Error("resolver without lookup succeeded")
	}
}

type brokenLookup struct{}

func (brokenLookup) LookupKey(string) (core.Key, error) {
	return core.Key{}, errors.New("disk on fire")
}

func TestResolveStoreError(t *testing.T) {
	// A storage failure is not "unknown key": callers must be able to tell.
	_, err := Resolver{Keys: brokenLookup{}}.Resolve(newPub(t))
	if err == nil || errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("err = %v", err)
	}
}

func TestResolveWithStore(t *testing.T) {
	st, err := core.Open(filepath.Join(t.TempDir(), "mimamori.db"), core.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pk := newPub(t)
	if _, err := st.EnrollKey(core.SystemActor("test"), "Sato", core.RoleManager, AuthorizedLine(pk, "sato")); err != nil {
		t.Fatal(err)
	}
	a, err := Resolver{Keys: st}.Resolve(pk)
	if err != nil || a.Name != "Sato" || a.Role != core.RoleManager {
		t.Fatalf("actor %+v, %v", a, err)
	}
	if _, err := (Resolver{Keys: st}).Resolve(newPub(t)); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("unknown key: %v", err)
	}
}

func TestHostKey(t *testing.T) {
	dir := t.TempDir()
	s1, fp1, created, err := LoadOrCreateHostKey(dir)
	if err != nil || !created {
		t.Fatalf("create: %v created=%v", err, created)
	}
	path := HostKeyPath(dir)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("host key mode %v", fi.Mode().Perm())
	}
	if s1.PublicKey().Type() != ssh.KeyAlgoED25519 || fp1 != Fingerprint(s1.PublicKey()) {
		t.Errorf("type %s fp %s", s1.PublicKey().Type(), fp1)
	}
	data, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(data), "-----BEGIN OPENSSH PRIVATE KEY-----") {
		t.Errorf("not OpenSSH PEM: %.40q", data)
	}
	_, fp2, created, err := LoadOrCreateHostKey(dir)
	if err != nil || created || fp2 != fp1 {
		t.Fatalf("reload: fp %s vs %s created=%v err=%v", fp2, fp1, created, err)
	}
	// A damaged key is an error, never silently replaced.
	if err := os.WriteFile(path, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := LoadOrCreateHostKey(dir); err == nil {
		t.Error("damaged host key accepted")
	}
	if d, _ := os.ReadFile(path); string(d) != "garbage" {
		t.Error("damaged host key was overwritten")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "ssh", ".key-*")); len(left) != 0 {
		t.Errorf("temp files left: %v", left)
	}
}

func TestGenerateUserKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "manager")
	line, err := GenerateUserKey(path)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := os.ReadFile(path + ".pub")
	if err != nil || strings.TrimSpace(string(pub)) != line {
		t.Fatalf(".pub = %q (%v), line %q", pub, err, line)
	}
	pk, comment, err := ParseAuthorizedKey([]byte(line))
	if err != nil || comment != "manager" {
		t.Fatalf("line %q: %v %q", line, err, comment)
	}
	priv, _ := os.ReadFile(path)
	signer, err := ssh.ParsePrivateKey(priv)
	if err != nil || Fingerprint(signer.PublicKey()) != Fingerprint(pk) {
		t.Fatalf("private key does not match: %v", err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("private key mode %v", fi.Mode().Perm())
	}
	if _, err := GenerateUserKey(path); !errors.Is(err, fs.ErrExist) {
		t.Errorf("overwrite: %v", err)
	}
	again, created, err := LoadOrGenerateUserKey(path)
	if err != nil || created || again != line {
		t.Errorf("reuse: %q created=%v %v", again, created, err)
	}
	other := filepath.Join(filepath.Dir(path), "operator")
	if _, created, err := LoadOrGenerateUserKey(other); err != nil || !created {
		t.Errorf("generate: created=%v %v", created, err)
	}
	// The file must be usable by OpenSSH itself.
	if kg, err := exec.LookPath("ssh-keygen"); err == nil {
		out, err := exec.Command(kg, "-y", "-f", path).Output()
		if err != nil || !strings.HasPrefix(line, strings.TrimSpace(string(out))) {
			t.Errorf("ssh-keygen -y: %q %v", out, err)
		}
	} else {
		t.Log("ssh-keygen not installed; OpenSSH compatibility not checked")
	}
}
