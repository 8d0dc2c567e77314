package main

import (
	"context"
	"crypto/dsa"
	"crypto/rand"
	"crypto/rsa"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"
)

// writePub writes pk as an authorized_keys file and returns its path.
func writePub(t *testing.T, dir, name string, pk gossh.PublicKey) string {
	t.Helper()
	p := filepath.Join(dir, name+".pub")
	if err := os.WriteFile(p, gossh.MarshalAuthorizedKey(pk), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func rsaPub(t *testing.T, bits int) gossh.PublicKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := gossh.NewPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pk
}

func dsaPub(t *testing.T) gossh.PublicKey {
	t.Helper()
	var k dsa.PrivateKey
	if err := dsa.GenerateParameters(&k.Parameters, rand.Reader, dsa.L1024N160); err != nil {
		t.Fatal(err)
	}
	if err := dsa.GenerateKey(&k, rand.Reader); err != nil {
		t.Fatal(err)
	}
	pk, err := gossh.NewPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pk
}

// skPub is a FIDO (sk-ssh-ed25519) public key; only its encoding matters.
func skPub(t *testing.T) gossh.PublicKey {
	t.Helper()
	blob := gossh.Marshal(struct {
		Name, Key, App string
	}{gossh.KeyAlgoSKED25519, strings.Repeat("k", 32), "ssh:"})
	pk, err := gossh.ParsePublicKey(blob)
	if err != nil {
		t.Fatal(err)
	}
	return pk
}

// Enrolment refuses what login would refuse, and says why.
func TestKeysAddRefusesWeakKeys(t *testing.T) {
	ctx := context.Background()
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	for _, c := range []struct {
		name string
		pk   gossh.PublicKey
		msg  string
	}{
		{"dsa", dsaPub(t), "DSA keys are not accepted"},
		{"rsa1024", rsaPub(t, 1024), "RSA key of 1024 bits; at least 3072"},
		{"rsa2048", rsaPub(t, 2048), "RSA key of 2048 bits"},
		{"sk", skPub(t), "security-key (sk-) keys are not accepted"},
	} {
		code, _, errOut := runCmd(t, ctx, "keys", "add", "--data", data, "--role", "manager", "--name", c.name, writePub(t, tmp, c.name, c.pk))
		if code != 1 || !strings.Contains(errOut, c.msg) {
			t.Errorf("%s: exit %d stderr %q, want %q", c.name, code, errOut, c.msg)
		}
	}
	if code, out, errOut := runCmd(t, ctx, "keys", "add", "--data", data, "--role", "manager", "--name", "rsa3072", writePub(t, tmp, "rsa3072", rsaPub(t, 3072))); code != 0 {
		t.Fatalf("RSA-3072 refused: %s%s", out, errOut)
	}
}

var fpRE = regexp.MustCompile(`SHA256:[A-Za-z0-9+/]+`)

// keys list and keys revoke work offline, and the last manager stays.
func TestKeysListAndRevokeOffline(t *testing.T) {
	ctx := context.Background()
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	if code, _, errOut := runCmd(t, ctx, "keys", "list", "--data", data); code != 1 || !strings.Contains(errOut, "no database") {
		t.Fatalf("list without a database: %d %q", code, errOut)
	}
	_, mgrOut, _ := runCmd(t, ctx, "keys", "add", "--data", data, "--role", "manager", "--name", "佐藤", genKey(t, tmp, "m"))
	tk := genKey(t, tmp, "t")
	if code, _, errOut := runCmd(t, ctx, "keys", "add", "--data", data, "--role", "technician", "--name", "Ito \u202eevil", tk); code != 1 || !strings.Contains(errOut, "bidirectional") {
		t.Fatalf("name with a right-to-left override: %d %q", code, errOut)
	}
	_, techOut, _ := runCmd(t, ctx, "keys", "add", "--data", data, "--role", "technician", "--name", "Ito", tk)
	mgrFP, techFP := fpRE.FindString(mgrOut), fpRE.FindString(techOut)
	if mgrFP == "" || techFP == "" {
		t.Fatalf("no fingerprints in %q %q", mgrOut, techOut)
	}
	code, out, errOut := runCmd(t, ctx, "keys", "list", "--data", data)
	if code != 0 || !strings.Contains(out, mgrFP) || !strings.Contains(out, techFP) || !strings.Contains(out, "technician  active") {
		t.Fatalf("list: %d %q %q", code, out, errOut)
	}
	code, out, errOut = runCmd(t, ctx, "keys", "revoke", "--data", data, techFP)
	if code != 0 || !strings.Contains(out, "revoked "+techFP) {
		t.Fatalf("revoke: %d %q %q", code, out, errOut)
	}
	if _, out, _ = runCmd(t, ctx, "keys", "list", "--data", data); !strings.Contains(out, "technician  revoked") {
		t.Fatalf("after revoke: %q", out)
	}
	if code, _, errOut = runCmd(t, ctx, "keys", "revoke", "--data", data, mgrFP); code != 1 || !strings.Contains(errOut, "last manager") {
		t.Fatalf("revoking the last manager: %d %q", code, errOut)
	}
	if code, _, errOut = runCmd(t, ctx, "keys", "revoke", "--data", data, "SHA256:nope"); code != 1 || !strings.Contains(errOut, "not found") {
		t.Fatalf("unknown fingerprint: %d %q", code, errOut)
	}
	if code, out, _ := runCmd(t, ctx, "ledger", "verify", "--data", data); code != 0 {
		t.Fatalf("ledger after offline revoke: %s", out)
	}
}
