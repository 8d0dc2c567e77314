package sshd

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"mimamori/core"
	"mimamori/keys"
)

// randomExporter writes a package of random bytes, as big as a small
// real one, and records its SHA-256 like the real exporter.
type randomExporter struct{ size int }

func (e randomExporter) Export(_ context.Context, job core.ExportJob, _ func(done, total int64)) (core.ExportRecord, error) {
	b := make([]byte, e.size)
	rand.Read(b)
	p := filepath.Join(job.Dir, job.Request.ID+"-20260101T000000Z.mimamori")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		return core.ExportRecord{}, err
	}
	sum := sha256.Sum256(b)
	return core.ExportRecord{Path: p, ManifestHash: strings.Repeat("ab", 32), PackageSHA256: hex.EncodeToString(sum[:]),
		PackageBytes: int64(len(b)), Files: []core.ExportFile{{Name: "cam1.mp4", Camera: "cam1", SHA256: strings.Repeat("cd", 32), Bytes: 100}}}, nil
}

// opensshUser is a key enrolled for the real OpenSSH tools.
type opensshUser struct{ key string }

func (f *fixture) opensshUser(name string, role core.Role) opensshUser {
	f.t.Helper()
	p := filepath.Join(f.t.TempDir(), "id_"+name)
	line, err := keys.GenerateUserKey(p)
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.store.EnrollKey(core.SystemActor("test"), name, role, line); err != nil {
		f.t.Fatal(err)
	}
	return opensshUser{key: p}
}

// opensshKey writes u's private key where the OpenSSH tools read it.
func (f *fixture) opensshKey(u user) opensshUser {
	f.t.Helper()
	blk, err := gossh.MarshalPrivateKey(u.priv, "")
	if err != nil {
		f.t.Fatal(err)
	}
	p := filepath.Join(f.t.TempDir(), "id_"+u.actor.Name)
	if err := os.WriteFile(p, pem.EncodeToMemory(blk), 0o600); err != nil {
		f.t.Fatal(err)
	}
	return opensshUser{key: p}
}

// tool runs scp or sftp against the fixture as u.
func (f *fixture) tool(u opensshUser, bin string, stdin string, args ...string) (string, int) {
	f.t.Helper()
	_, port, _ := strings.Cut(f.addr, ":")
	pflag := "-P"
	base := []string{"-F", "/dev/null", pflag, port, "-i", u.key, "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
		"-o", "IdentityAgent=none", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"}
	c := exec.Command(bin, append(base, args...)...)
	c.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	t0 := time.Now()
	err := c.Run()
	if d := time.Since(t0); d > time.Second {
		f.t.Logf("SLOW %v: %s %v\n%s", d, filepath.Base(bin), args, out.String())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.String(), ee.ExitCode()
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return out.String(), 0
}

// With the real OpenSSH scp (SFTP mode and the legacy protocol) and sftp:
// managers and operators fetch packages, each fetch ledgered with its
// SHA-256 and byte count; technicians and viewers get nothing; paths
// outside export_dir and symlinks are refused; nothing can be written.
func TestFetchPackagesWithOpenSSH(t *testing.T) {
	scpBin, err1 := exec.LookPath("scp")
	sftpBin, err2 := exec.LookPath("sftp")
	if err1 != nil || err2 != nil {
		t.Skip("OpenSSH scp/sftp not installed (apt-get install openssh-client)")
	}
	dir := t.TempDir()
	// The company policy, so a temporary viewer can exist to be refused.
	f := newPolicyFixture(t, core.CompanyTemplate(), func(o *Options) {
		o.ExportDir = dir
		o.PerKeySessionRate = Rate{N: 1000, Per: time.Second} // many sessions of one key, quickly
		EnableFileTransfer(o)
	})
	f.store.SetExporter(randomExporter{size: 3<<20 + 12345})
	host, _, _, err := keys.LoadOrCreateHostKey(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.SetLogSigner("test", host); err != nil {
		t.Fatal(err)
	}
	f.addCameras("cam1", "cam2")
	id := strings.TrimSpace(f.mustRun(f.oper, newReq))
	f.mustRun(f.manager, "request instruct "+id+" --operator sousa")
	f.mustRun(f.oper, "request result "+id+dated(" --found yes --range cam1=DAY0T09:10:00+09:00/DAY0T09:14:00+09:00"))
	f.mustRun(f.manager, "request approve "+id+" --judgement '捜査に必要な範囲に限られ不当侵害のおそれなし'")
	pkg := strings.TrimSpace(f.mustRun(f.oper, "request export "+id))
	name := filepath.Base(pkg)
	want, _ := os.ReadFile(pkg)
	sum := sha256.Sum256(want)
	wantSum := hex.EncodeToString(sum[:])

	op := f.opensshUser("op-openssh", core.RoleOperator)
	tech := f.opensshUser("tech-openssh", core.RoleTechnician)
	addr := "127.0.0.1"
	fetches := func() []core.Entry { return f.fetchEntries("ended") }

	// scp (OpenSSH 9 speaks SFTP), scp -O (the legacy protocol), sftp.
	out := t.TempDir()
	for i, c := range []struct {
		bin   string
		stdin string
		args  []string
		proto string
	}{
		{scpBin, "", []string{addr + ":" + name, filepath.Join(out, "a")}, "sftp"},
		{scpBin, "", []string{"-O", addr + ":" + name, filepath.Join(out, "b")}, "scp"},
		{sftpBin, "get " + name + " " + filepath.Join(out, "c") + "\n", []string{"-b", "-", addr}, "sftp"},
	} {
		msg, code := f.tool(op, c.bin, c.stdin, c.args...)
		got, err := os.ReadFile(filepath.Join(out, string(rune('a'+i))))
		if code != 0 || err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s %v: exit %d, %d bytes of %d (%v)\n%s", filepath.Base(c.bin), c.args, code, len(got), len(want), err, msg)
		}
		es := f.waitFetchEnded(i + 1)
		if len(es) != i+1 || len(f.fetchEntries("started")) != i+1 {
			t.Fatalf("after fetch %d: %d fetch entries", i+1, len(es))
		}
		d := es[i].Details
		if d["sha256"] != wantSum || d["bytes"] != itoa(len(want)) || d["complete"] != "true" || d["request"] != id ||
			d["protocol"] != c.proto || es[i].Actor.Name != "op-openssh" {
			t.Fatalf("fetch entry %d: %+v by %s", i, d, es[i].Actor.Name)
		}
	}
	// sftp ls shows the package and nothing else in export_dir.
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a package"), 0o600)
	msg, code := f.tool(op, sftpBin, "ls -1\n", "-b", "-", addr)
	if code != 0 || !strings.Contains(msg, name) || strings.Contains(msg, "notes.txt") {
		t.Fatalf("sftp ls: exit %d\n%s", code, msg)
	}

	// A technician and a viewer get nothing.
	before := len(fetches())
	for _, u := range []opensshUser{tech, f.opensshViewer()} {
		if _, code := f.tool(u, scpBin, "", addr+":"+name, filepath.Join(out, "t1")); code == 0 {
			t.Fatal("scp allowed for a role that may not fetch")
		}
		if _, code := f.tool(u, scpBin, "", "-O", addr+":"+name, filepath.Join(out, "t2")); code == 0 {
			t.Fatal("scp -O allowed for a role that may not fetch")
		}
		if _, code := f.tool(u, sftpBin, "get "+name+" "+filepath.Join(out, "t3")+"\n", "-b", "-", addr); code == 0 {
			t.Fatal("sftp allowed for a role that may not fetch")
		}
	}
	for _, p := range []string{"t1", "t2", "t3"} {
		if _, err := os.Stat(filepath.Join(out, p)); err == nil {
			t.Fatalf("a role that may not fetch got %s", p)
		}
	}
	if !hasEntry(f.entries(), func(e core.Entry) bool {
		return e.Action == core.ActionDenied && e.Subject == string(core.ActionExportFetch) && e.Details["role"] == "technician"
	}) {
		t.Fatal("the technician's attempt is not ledgered")
	}

	// Outside export_dir: .., absolute paths, symlinks.
	secret := filepath.Join(t.TempDir(), "secret.txt")
	os.WriteFile(secret, []byte("outside"), 0o600)
	os.Symlink(secret, filepath.Join(dir, "link.mimamori"))
	rel, _ := filepath.Rel(dir, secret)
	// (export_dir is the client's "/", so "/.." is "/", as in any chroot:
	// no path reaches above it.)
	for _, p := range []string{"../../etc/passwd", "../" + rel, rel, secret, "/etc/passwd", "link.mimamori", "notes.txt"} {
		for _, args := range [][]string{{addr + ":" + p, filepath.Join(out, "x")}, {"-O", addr + ":" + p, filepath.Join(out, "x")}} {
			if msg, code := f.tool(op, scpBin, "", args...); code == 0 {
				t.Errorf("scp %v allowed:\n%s", args, msg)
			}
		}
		if msg, code := f.tool(op, sftpBin, "get "+p+" "+filepath.Join(out, "x")+"\n", "-b", "-", addr); code == 0 {
			t.Errorf("sftp get %s allowed:\n%s", p, msg)
		}
		if _, err := os.Stat(filepath.Join(out, "x")); err == nil {
			t.Fatalf("%s was fetched", p)
		}
	}
	// A package replaced by a symlink is not followed.
	os.Rename(pkg, pkg+".real")
	os.Symlink(secret, pkg)
	if msg, code := f.tool(op, scpBin, "", addr+":"+name, filepath.Join(out, "y")); code == 0 {
		t.Errorf("scp through a symlinked package allowed:\n%s", msg)
	}
	os.Remove(pkg)
	os.Rename(pkg+".real", pkg)
	// Nothing can be written, renamed or removed.
	up := filepath.Join(t.TempDir(), "up.mimamori")
	os.WriteFile(up, []byte("upload"), 0o600)
	if _, code := f.tool(op, scpBin, "", up, addr+":up.mimamori"); code == 0 {
		t.Error("scp upload allowed")
	}
	if _, code := f.tool(op, scpBin, "", "-O", up, addr+":up.mimamori"); code == 0 {
		t.Error("scp -O upload allowed")
	}
	for _, cmd := range []string{"put " + up, "rm " + name, "rename " + name + " x.mimamori", "mkdir d"} {
		if _, code := f.tool(op, sftpBin, cmd+"\n", "-b", "-", addr); code == 0 {
			t.Errorf("sftp %q allowed", cmd)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "up.mimamori")); err == nil {
		t.Fatal("a file was uploaded")
	}
	if got, _ := os.ReadFile(pkg); !bytes.Equal(got, want) {
		t.Fatal("the package changed")
	}
	if n := len(fetches()); n != before || len(f.fetchEntries("started")) != before {
		t.Fatalf("refused attempts were ledgered as fetches: %d -> %d", before, n)
	}
	if !hasEntry(f.entries(), func(e core.Entry) bool {
		return e.Action == core.ActionDenied && e.Subject == string(core.ActionExportFetch) && e.Details["role"] == "operator"
	}) {
		t.Fatal("the operator's refused paths are not ledgered")
	}
}

// opensshViewer is a temporary viewer (a grant) with an OpenSSH key.
func (f *fixture) opensshViewer() opensshUser {
	f.t.Helper()
	p := filepath.Join(f.t.TempDir(), "id_viewer")
	line, err := keys.GenerateUserKey(p)
	if err != nil {
		f.t.Fatal(err)
	}
	f.mustRun(f.manager, grantAdd(line, ""))
	return opensshUser{key: p}
}

// After the handover the package is gone from the appliance (with a
// proof entry) and can no longer be fetched; the receipt lists what left.
func TestHandoverReceiptAndErasure(t *testing.T) {
	scpBin, err := exec.LookPath("scp")
	if err != nil {
		t.Skip("OpenSSH scp not installed (apt-get install openssh-client)")
	}
	dir := t.TempDir()
	f := newFixture(t, func(o *Options) { o.ExportDir = dir; EnableFileTransfer(o) })
	host, _, _, err := keys.LoadOrCreateHostKey(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.SetLogSigner("test", host); err != nil {
		t.Fatal(err)
	}
	f.store.SetExporter(randomExporter{size: 100000})
	f.addCameras("cam1", "cam2")
	id := strings.TrimSpace(f.mustRun(f.oper, newReq))
	f.mustRun(f.manager, "request instruct "+id+" --operator sousa")
	f.mustRun(f.oper, "request result "+id+dated(" --found yes --range cam1=DAY0T09:10:00+09:00/DAY0T09:14:00+09:00"))
	f.mustRun(f.manager, "request approve "+id+" --judgement '捜査に必要な範囲に限られ不当侵害のおそれなし'")
	pkg := strings.TrimSpace(f.mustRun(f.oper, "request export "+id))
	raw, _ := os.ReadFile(pkg)
	sum := sha256.Sum256(raw)
	op := f.opensshKey(f.oper) // the operator the search was instructed to (000 §9-4)
	if msg, code := f.tool(op, scpBin, "", "127.0.0.1:"+filepath.Base(pkg), filepath.Join(t.TempDir(), "p")); code != 0 {
		t.Fatalf("fetch before the handover: %d\n%s", code, msg)
	}
	f.mustRun(f.manager, "request provide "+id+" --recipient '佐藤 健' --agency 四街道警察署 --id-doc 警察手帳 --medium 'USBメモリ 3番'")
	if _, err := os.Stat(pkg); !os.IsNotExist(err) {
		t.Fatalf("package still on the appliance after the handover: %v", err)
	}
	if !hasEntry(f.entries(), func(e core.Entry) bool {
		return e.Action == core.ActionExportErase && e.Subject == id && e.Details["reason"] == core.EraseHandedOver &&
			e.Details["result"] == "erased" && e.Details["bytes"] == "100000"
	}) {
		t.Fatal("no erasure proof in the ledger")
	}
	if _, code := f.tool(op, scpBin, "", "127.0.0.1:"+filepath.Base(pkg), filepath.Join(t.TempDir(), "q")); code == 0 {
		t.Fatal("an erased package was fetched")
	}
	receipt := html.UnescapeString(f.mustRun(f.manager, "request receipt "+id))
	for _, want := range []string{filepath.Base(pkg), hex.EncodeToString(sum[:]), "100000 bytes", f.srv.HostKeyFingerprint(),
		"佐藤 健", "四街道警察署", "警察手帳", "USBメモリ 3番", "台帳チェックポイント", "root "} {
		if !strings.Contains(receipt, want) {
			t.Errorf("receipt lacks %q", want)
		}
	}
	// Forms 2 and 3 carry the checkpoint and the appliance key too.
	for _, n := range []string{"2", "3"} {
		if out := html.UnescapeString(f.mustRun(f.manager, "form "+n+" "+id)); !strings.Contains(out, "台帳チェックポイント") ||
			!strings.Contains(out, f.srv.HostKeyFingerprint()) {
			t.Errorf("form %s lacks the ledger anchor", n)
		}
	}
}
