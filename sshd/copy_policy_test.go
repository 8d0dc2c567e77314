package sshd

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkg/sftp"
	gossh "golang.org/x/crypto/ssh"

	"mimamori/core"
	"mimamori/keys"
)

// Who may export a request and fetch its package, over SSH, under each
// profile. City (000 §9-4: the operator copies on the manager's
// instruction): only the operator the search was instructed to, or a
// manager; anyone else is refused before anything is written or served,
// with the reason, and the refusal is ledgered. Company (001 §5-2: a copy
// needs the manager's prior approval): any operator, once approved.
func TestWhoMayExportAndFetch(t *testing.T) {
	for _, c := range []struct {
		policy      core.Policy
		othersCopy  bool
		description string
	}{
		{core.CityStandard(), false, "city: on instruction only"},
		{core.CompanyTemplate(), true, "company: any operator once approved"},
	} {
		t.Run(c.policy.Name, func(t *testing.T) {
			dir := t.TempDir()
			f := newPolicyFixture(t, c.policy, func(o *Options) {
				o.ExportDir = dir
				EnableFileTransfer(o)
			})
			f.store.SetExporter(randomExporter{size: 1<<20 + 3})
			host, _, _, err := keys.LoadOrCreateHostKey(f.dir)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.store.SetLogSigner("test", host); err != nil {
				t.Fatal(err)
			}
			other := enroll(t, f.store, "betsu", core.RoleOperator)
			f.addCameras("cam1", "cam2")
			id := strings.TrimSpace(f.mustRun(f.oper, newReq))
			f.mustRun(f.manager, "request instruct "+id+" --operator sousa")
			f.mustRun(f.oper, "request result "+id+dated(" --found yes --range cam1=DAY0T09:10:00+09:00/DAY0T09:14:00+09:00"))
			f.mustRun(f.manager, "request approve "+id+" --judgement '捜査に必要な範囲に限られ不当侵害のおそれなし'")

			// The other operator exports.
			out, errOut, code := f.run(other, "request export "+id)
			if c.othersCopy {
				if code != 0 {
					t.Fatalf("%s: another operator's export: exit %d, %q", c.description, code, errOut)
				}
			} else {
				if code != ExitError || out != "" || !strings.HasPrefix(errOut, "forbidden: operator may not request.export\n") ||
					!strings.Contains(errOut, "only the operator the search of "+id+" was instructed to (sousa), or a manager") {
					t.Fatalf("%s: another operator's export: exit %d, stdout %q, stderr %q", c.description, code, out, errOut)
				}
				if ents, _ := os.ReadDir(dir); len(ents) != 0 {
					t.Fatalf("a refused export left %d files in export_dir", len(ents))
				}
				f.wantCopyRefusal(other, core.ActionRequestExport, id)
				out = f.mustRun(f.oper, "request export "+id) // the instructed operator
			}
			name := filepath.Base(strings.TrimSpace(out))
			want, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}

			// Fetching it: the other operator, the instructed one, the manager.
			for _, u := range []user{other, f.oper, f.manager} {
				may := c.othersCopy || u.actor.Fingerprint != other.actor.Fingerprint
				got, err := sftpGet(t, f, u, name)
				switch {
				case may && (err != nil || string(got) != string(want)):
					t.Errorf("%s: %s fetching: %d bytes, %v", c.description, u.actor.Name, len(got), err)
				case !may && err == nil:
					t.Errorf("%s: %s fetched %d bytes of another operator's request", c.description, u.actor.Name, len(got))
				}
			}
			started := map[string]int{}
			for _, e := range f.fetchEntries("started") {
				started[e.Actor.Name]++
			}
			if !c.othersCopy {
				if started["betsu"] != 0 {
					t.Errorf("the refused operator has %d fetches on record as started", started["betsu"])
				}
				f.wantCopyRefusal(other, core.ActionExportFetch, id)
			} else if started["betsu"] != 1 {
				t.Errorf("the other operator's fetch: %d started entries, want 1", started["betsu"])
			}
			if started["sousa"] != 1 || started["kanri"] != 1 {
				t.Errorf("fetches started: %v", started)
			}
		})
	}
}

// wantCopyRefusal: the ledger has a denied entry of u trying action on id,
// with the policy's reason.
func (f *fixture) wantCopyRefusal(u user, action core.Action, id string) {
	f.t.Helper()
	for _, e := range f.entries() {
		if e.Action == core.ActionDenied && e.Actor.Fingerprint == u.actor.Fingerprint &&
			e.Details["tried"] == string(action) && e.Details["subject"] == id &&
			e.Details["reason"] == "the search was not instructed to this operator" {
			return
		}
	}
	f.t.Errorf("no denied entry of %s trying %s on %s", u.actor.Name, action, id)
}

// sftpGet fetches name over a real SSH connection with an sftp client.
func sftpGet(t *testing.T, f *fixture, u user, name string) ([]byte, error) {
	t.Helper()
	c, err := gossh.Dial("tcp", f.addr, clientConfig(gossh.PublicKeys(u.signer)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sc, err := sftp.NewClient(c)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	fh, err := sc.Open(name)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(fh)
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		f.waitFetchEndedBy(u)
	}
	return b, err
}

// waitFetchEndedBy waits for u's fetch to end in the ledger (the server
// ledgers it when it closes the file).
func (f *fixture) waitFetchEndedBy(u user) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, e := range f.fetchEntries("ended") {
			if e.Actor.Fingerprint == u.actor.Fingerprint {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	f.t.Errorf("%s's fetch never ended in the ledger", u.actor.Name)
}
