package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"mimamori/appliance"
	"mimamori/config"
	"mimamori/simcam"
)

// The fixture under testdata/release-28ba08b was written by the release
// before schema versioning (see its README). These tests open copies of
// it with the current code.
const oldRelease = "testdata/release-28ba08b"

// copyFixture copies the fixture's data directory and keys into a fresh
// temporary directory (the committed files are never opened in place).
func copyFixture(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	for _, sub := range []string{"data", "keys"} {
		root := filepath.Join(oldRelease, sub)
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(oldRelease, p)
			to := filepath.Join(dst, rel)
			if d.IsDir() {
				return os.MkdirAll(to, 0o700)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(to, b, 0o600)
		})
		if err != nil {
			t.Fatalf("copying the fixture: %v", err)
		}
	}
	return dst
}

// oldLedgerEntries is the count the old release's `ledger verify` printed.
func oldLedgerEntries(t *testing.T) uint64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(oldRelease, "expected", "ledger-verify.txt"))
	if err != nil {
		t.Fatal(err)
	}
	m := intactRE.FindSubmatch(b)
	if m == nil {
		t.Fatalf("expected/ledger-verify.txt: %q", b)
	}
	n, _ := strconv.ParseUint(string(m[1]), 10, 64)
	return n
}

func ledgerCount(t *testing.T, data string) uint64 {
	t.Helper()
	code, out, errOut := runCmd(t, context.Background(), "ledger", "verify", "--data", data)
	m := intactRE.FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("ledger verify: exit %d\n%s%s", code, out, errOut)
	}
	n, _ := strconv.ParseUint(m[1], 10, 64)
	return n
}

// fixtureConfig is the old release's configuration with the cameras
// pointed at cams and every listener on port 0.
func fixtureConfig(t *testing.T, dir string, cams *simcam.Server) *config.Config {
	t.Helper()
	y := fmt.Sprintf(`data_dir: data
ssh:
  listen: "127.0.0.1:0"
  playback_port: 0
storage:
  capacity: 4MiB
  block_size: 256KiB
  hold_share: 0.5
policy: company
policy_overrides:
  viewer_grants: true
  max_extension_days: 0
lang: en
timezone: Asia/Tokyo
appliance_id: fixture-28ba08b
cameras:
  - id: cam1
    number: 1
    name: 駅北口
    location: 四街道駅北口ロータリー
    direction: 北向き、ロータリー全体
    url: %s
    sign_posted: true
    police_consulted: 2024-04-01
  - id: cam2
    number: 2
    name: 商店街東口
    location: 中央商店街 東口
    url: %s
`, cams.URL(1), cams.URL(2))
	cfg, err := config.Parse([]byte(y), dir)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// sshAs runs one console command as the fixture's key named who.
func sshAs(t *testing.T, addr, keyDir, who, cmd string) (string, string, int) {
	t.Helper()
	pem, err := os.ReadFile(filepath.Join(keyDir, who))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		t.Fatal(err)
	}
	client, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{User: who, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("ssh as %s: %v", who, err)
	}
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	var out, errb bytes.Buffer
	sess.Stdout, sess.Stderr = &out, &errb
	err = sess.Run(cmd)
	var ee *ssh.ExitError
	switch {
	case errors.As(err, &ee):
		return out.String(), errb.String(), ee.ExitStatus()
	case err != nil:
		t.Fatalf("ssh %s %q: %v", who, cmd, err)
	}
	return out.String(), errb.String(), 0
}

// decodeAll reads every JSON value in r (one array, or a stream of objects).
func decodeAll(t *testing.T, r io.Reader) []map[string]any {
	t.Helper()
	var out []map[string]any
	dec := json.NewDecoder(r)
	for {
		var v any
		if err := dec.Decode(&v); err == io.EOF {
			return out
		} else if err != nil {
			t.Fatal(err)
		}
		switch v := v.(type) {
		case []any:
			for _, o := range v {
				out = append(out, o.(map[string]any))
			}
		case map[string]any:
			out = append(out, v)
		}
	}
}

// sameRecords checks that every record the old release listed is listed
// again, by id, with every field it had then unchanged (new releases may
// add fields). "active" depends on when it is asked and is left out, as
// are the fields named in skip.
func sameRecords(t *testing.T, what string, old, now []map[string]any, skip ...string) {
	t.Helper()
	byID := map[string]map[string]any{}
	for _, r := range now {
		byID[fmt.Sprint(r["id"])] = r
	}
	if len(now) != len(old) {
		t.Errorf("%s: %d records, the old release had %d", what, len(now), len(old))
	}
	for _, o := range old {
		id := fmt.Sprint(o["id"])
		n, ok := byID[id]
		if !ok {
			t.Errorf("%s: %s is gone", what, id)
			continue
		}
		for k, v := range o {
			if k == "active" || slices.Contains(skip, k) {
				continue
			}
			if !keeps(n[k], v) {
				t.Errorf("%s %s: %s = %v, the old release showed %v", what, id, k, n[k], v)
			}
		}
	}
}

// keeps reports whether now still holds everything old showed: equal
// values, with objects allowed to have gained keys (a newer release may
// show more, e.g. a result's found ranges) but not to have lost any.
func keeps(now, old any) bool {
	om, ok := old.(map[string]any)
	if !ok {
		ol, isList := old.([]any)
		nl, nowList := now.([]any)
		if !isList || !nowList || len(ol) != len(nl) {
			return reflect.DeepEqual(now, old)
		}
		for i := range ol {
			if !keeps(nl[i], ol[i]) {
				return false
			}
		}
		return true
	}
	nm, ok := now.(map[string]any)
	if !ok {
		return false
	}
	for k, v := range om {
		if !keeps(nm[k], v) {
			return false
		}
	}
	return true
}

func expectedJSON(t *testing.T, name string) []map[string]any {
	t.Helper()
	f, err := os.Open(filepath.Join(oldRelease, "expected", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return decodeAll(t, f)
}

// TestUpgradeFromRelease28ba08b opens the old release's data directory
// with this release, over real SSH, and checks nothing was lost.
func TestUpgradeFromRelease28ba08b(t *testing.T) {
	dir := copyFixture(t)
	data, keyDir := filepath.Join(dir, "data"), filepath.Join(dir, "keys")
	before := oldLedgerEntries(t)
	if got := ledgerCount(t, data); got != before {
		t.Fatalf("the untouched fixture verifies %d entries, the old release said %d", got, before)
	}

	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	cams, err := simcam.New(simcam.Options{Listen: "127.0.0.1:0", Cameras: 2, Codec: "h264", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := cams.Start(); err != nil {
		t.Fatal(err)
	}
	defer cams.Close()
	app, err := appliance.Open(fixtureConfig(t, dir, cams), log)
	if err != nil {
		t.Fatalf("opening the old release's data: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	run, err := app.Start(ctx, log)
	if err != nil {
		cancel()
		app.Close()
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			run.Stop(log)
			app.Close()
		}
	}
	defer stop()
	defer func() {
		if t.Failed() {
			t.Logf("appliance log:\n%s", logs.String())
		}
	}()
	addr := run.SSHAddr().String()

	for _, c := range []struct {
		cmd, file string
		skip      []string
	}{
		{"request list --json", "requests.json", nil},
		{"hold list --json", "holds.json", nil},
		{"grant list --json", "grants.json", nil},
		{"inquiry list --json", "inquiries.json", nil},
		{"maintenance list --json", "maintenance.json", nil},
		// The simulated cameras listen elsewhere now: a config change.
		{"cameras --json", "cameras.json", []string{"url", "updated_at"}},
	} {
		out, errOut, code := sshAs(t, addr, keyDir, "manager", c.cmd)
		if code != 0 {
			t.Errorf("%s: exit %d: %s", c.cmd, code, errOut)
			continue
		}
		sameRecords(t, c.cmd, expectedJSON(t, c.file), decodeAll(t, strings.NewReader(out)), c.skip...)
	}
	var shown []map[string]any
	for _, r := range expectedJSON(t, "request-show.jsonl") {
		out, errOut, code := sshAs(t, addr, keyDir, "manager", "request show "+fmt.Sprint(r["id"])+" --json")
		if code != 0 {
			t.Fatalf("request show: exit %d: %s", code, errOut)
		}
		shown = append(shown, decodeAll(t, strings.NewReader(out))...)
	}
	sameRecords(t, "request show", expectedJSON(t, "request-show.jsonl"), shown)

	// Every enrolled person still logs in as who they were.
	for who, role := range map[string]string{"manager": "manager", "operator": "operator", "technician": "technician", "viewer": "viewer"} {
		out, errOut, code := sshAs(t, addr, keyDir, who, "whoami --json")
		if code != 0 || !strings.Contains(out, `"role": "`+role+`"`) {
			t.Errorf("%s whoami: exit %d\n%s%s", who, code, out, errOut)
		}
	}
	// The upgrade is in the ledger, with the machine records.
	out, errOut, code := sshAs(t, addr, keyDir, "manager", "ledger --machine --json")
	if code != 0 || !strings.Contains(out, `"schema.migrate"`) || !strings.Contains(out, `"ledger-tree"`) {
		t.Errorf("ledger --machine: no schema.migrate entries: exit %d\n%s%s", code, tail(out, 2000), errOut)
	}
	out, errOut, code = sshAs(t, addr, keyDir, "manager", "ledger verify")
	if code != 0 || !strings.Contains(out, "intact") {
		t.Errorf("console ledger verify: exit %d\n%s%s", code, out, errOut)
	}
	stop()

	if after := ledgerCount(t, data); after <= before {
		t.Errorf("ledger has %d entries after the upgrade, %d before: the logins were not recorded", after, before)
	}

	// The old release's export package still verifies.
	pkgs, _ := filepath.Glob(filepath.Join(data, "exports", "*.mimamori"))
	if len(pkgs) != 1 {
		t.Fatalf("export packages in the fixture: %v", pkgs)
	}
	args := []string{"verify", pkgs[0], "--passphrase-file", filepath.Join(oldRelease, "export-passphrase.txt")}
	if _, help, _ := runCmd(t, context.Background(), "verify", "--help"); regexp.MustCompile(`--key\b`).MatchString(help) {
		args = append(args, "--key", app.HostFP) // releases that check authenticity against a given key
	}
	if code, out, errOut := runCmd(t, context.Background(), args...); code != 0 || !strings.Contains(out, "intact") {
		t.Errorf("mimamori verify of the old package: exit %d\n%s%s", code, out, errOut)
	}
}
