package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"mimamori/appliance"
	"mimamori/config"
	"mimamori/core"
	"mimamori/keys"
)

// runCmd runs the CLI in-process and returns exit code, stdout and stderr.
func runCmd(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

func genKey(t *testing.T, dir, name string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if _, err := keys.GenerateUserKey(path); err != nil {
		t.Fatal(err)
	}
	return path + ".pub"
}

var intactRE = regexp.MustCompile(`ledger intact: (\d+) entries`)

func TestKeysAddThenLedgerVerifyThenTamper(t *testing.T) {
	ctx := context.Background()
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	mgr := genKey(t, tmp, "manager")
	op := genKey(t, tmp, "operator")

	code, out, errOut := runCmd(t, ctx, "keys", "add", "--data", data, "--role", "manager", "--name", "佐藤 花子", mgr)
	if code != 0 || !strings.Contains(out, "enrolled 佐藤 花子 as manager: ssh-ed25519 SHA256:") {
		t.Fatalf("keys add: code %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	// Flags after the positional argument work too.
	if code, out, errOut := runCmd(t, ctx, "keys", "add", op, "--data", data, "--role=operator", "--name", "Suzuki"); code != 0 {
		t.Fatalf("keys add (flags after file): code %d\n%s%s", code, out, errOut)
	}
	// The same key twice is refused and leaves the ledger intact.
	if code, _, errOut := runCmd(t, ctx, "keys", "add", "--data", data, "--role", "operator", "--name", "Again", mgr); code != 1 || !strings.Contains(errOut, "already enrolled") {
		t.Errorf("duplicate enrolment: code %d stderr %q", code, errOut)
	}

	// The enrolled key resolves to its person and role.
	st, err := core.Open(appliance.DBPath(data), core.Options{})
	if err != nil {
		t.Fatal(err)
	}
	line, _ := os.ReadFile(op)
	pk, _, err := keys.ParseAuthorizedKey(line)
	if err != nil {
		t.Fatal(err)
	}
	actor, err := keys.Resolver{Keys: st}.Resolve(pk)
	st.Close()
	if err != nil || actor.Name != "Suzuki" || actor.Role != core.RoleOperator {
		t.Fatalf("resolve: %+v %v", actor, err)
	}

	code, out, errOut = runCmd(t, ctx, "ledger", "verify", "--data", data)
	m := intactRE.FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("ledger verify: code %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if n, _ := strconv.Atoi(m[1]); n < 2 {
		t.Errorf("want at least 2 entries (two enrolments), got %d", n)
	}

	// Change one byte in the middle of the first ledger entry.
	db, err := bolt.Open(appliance.DBPath(data), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("ledger"))
		if b == nil {
			t.Fatal("no ledger bucket: core's layout changed, update this test")
		}
		k, v := b.Cursor().First()
		if k == nil {
			t.Fatal("ledger bucket is empty")
		}
		nv := append([]byte(nil), v...)
		nv[len(nv)/2] ^= 0x01
		return b.Put(append([]byte(nil), k...), nv)
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCmd(t, ctx, "ledger", "verify", "--data", data)
	if code != 1 || !strings.Contains(out, "ledger BROKEN at seq 1:") {
		t.Fatalf("tampered ledger: code %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
}

func TestKeysAddRejects(t *testing.T) {
	ctx := context.Background()
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	pub := genKey(t, tmp, "k")
	two := filepath.Join(tmp, "two.pub")
	a, _ := os.ReadFile(pub)
	b, _ := os.ReadFile(genKey(t, tmp, "k2"))
	if err := os.WriteFile(two, append(append([]byte("# two keys\n"), a...), b...), 0o644); err != nil {
		t.Fatal(err)
	}
	junk := filepath.Join(tmp, "junk.pub")
	if err := os.WriteFile(junk, []byte("this is not a key\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(tmp, "empty.pub")
	if err := os.WriteFile(empty, []byte("\n# nothing\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no data", []string{"--role", "manager", "--name", "x", pub}, 2, "--data is required"},
		{"no role", []string{"--data", data, "--name", "x", pub}, 2, "--role is required"},
		{"no name", []string{"--data", data, "--role", "manager", pub}, 2, "--name is required"},
		{"no file", []string{"--data", data, "--role", "manager", "--name", "x"}, 2, "PUBKEY_FILE"},
		{"bad role", []string{"--data", data, "--role", "boss", "--name", "x", pub}, 2, "boss"},
		{"viewer", []string{"--data", data, "--role", "viewer", "--name", "x", pub}, 1, "viewer"},
		{"bad flag", []string{"--data", data, "--colour", "red", pub}, 2, "colour"},
		{"missing file", []string{"--data", data, "--role", "manager", "--name", "x", filepath.Join(tmp, "nope.pub")}, 1, "nope.pub"},
		{"two keys", []string{"--data", data, "--role", "manager", "--name", "x", two}, 1, "more than one key"},
		{"junk", []string{"--data", data, "--role", "manager", "--name", "x", junk}, 1, "not an SSH public key"},
		{"empty", []string{"--data", data, "--role", "manager", "--name", "x", empty}, 1, "no public key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runCmd(t, ctx, append([]string{"keys", "add"}, tt.args...)...)
			if code != tt.code || !strings.Contains(errOut, tt.msg) {
				t.Errorf("code %d (want %d), stderr %q (want %q)", code, tt.code, errOut, tt.msg)
			}
		})
	}
	if _, err := os.Stat(appliance.DBPath(data)); err == nil {
		if code, out, _ := runCmd(t, ctx, "ledger", "verify", "--data", data); code != 0 || !strings.Contains(out, "ledger intact: 0 entries") {
			t.Errorf("refused enrolments left ledger entries: %s", out)
		}
	}
}

func TestLedgerVerifyMissingDB(t *testing.T) {
	code, _, errOut := runCmd(t, context.Background(), "ledger", "verify", "--data", t.TempDir())
	if code != 1 || !strings.Contains(errOut, "no database") {
		t.Errorf("code %d stderr %q", code, errOut)
	}
	if code, _, _ := runCmd(t, context.Background(), "ledger", "verify"); code != 2 {
		t.Errorf("without --data: code %d", code)
	}
}

func TestServeRejectsBadConfig(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, yaml, key string
		line            int
	}{
		{"unknown key", "lang: en\nstorage:\n  capacty: 1GiB\n", "storage.capacty", 3},
		{"bad size", "storage:\n  capacity: twenty\n", "storage.capacity", 2},
		{"bad duration", "ssh:\n  idle_timeout: soon\n", "ssh.idle_timeout", 2},
		{"duplicate camera", "cameras:\n  - id: c\n    url: rtsp://a/\n  - id: c\n    url: rtsp://b/\n", "cameras[1].id", 4},
		{"http camera", "cameras:\n  - id: c\n    url: http://a/\n", "cameras[0].url", 3},
		{"data_dir is a file", "data_dir: m.yaml\n", "data_dir", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "m.yaml")
			if err := os.WriteFile(path, []byte(tt.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			code, _, errOut := runCmd(t, context.Background(), "serve", "--config", path)
			if code != 1 || !strings.Contains(errOut, "key "+tt.key) || !strings.Contains(errOut, "line "+strconv.Itoa(tt.line)) {
				t.Errorf("code %d, stderr %q: want key %s and line %d", code, errOut, tt.key, tt.line)
			}
		})
	}
	if code, _, errOut := runCmd(t, context.Background(), "serve", "--config", filepath.Join(dir, "absent.yaml")); code != 1 || !strings.Contains(errOut, "absent.yaml") {
		t.Errorf("missing config: code %d stderr %q", code, errOut)
	}
}

func TestServeStartsAndStops(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.yaml")
	cfg := "data_dir: var\nssh:\n  listen: 127.0.0.1:0\npolicy: company\nretention:\n  days: 10\ncameras:\n  - id: cam1\n    number: 7\n    location: 正門\n    url: rtsp://127.0.0.1:1/cam1\n"
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // serve returns once set up, as on SIGTERM
	code, _, errOut := runCmd(t, ctx, "serve", "--config", path)
	if code != 0 {
		t.Fatalf("serve: code %d\n%s", code, errOut)
	}
	data := filepath.Join(dir, "var")
	if _, err := os.Stat(keys.HostKeyPath(data)); err != nil {
		t.Errorf("host key not created: %v", err)
	}
	code, out, _ := runCmd(t, context.Background(), "ledger", "verify", "--data", data)
	if code != 0 || !intactRE.MatchString(out) || strings.Contains(out, "intact: 0 ") {
		t.Errorf("camera sync not ledgered: %s", out)
	}
	// A restart with the same config adds no changes and reuses the host key.
	hk1, _ := os.ReadFile(keys.HostKeyPath(data))
	if code, _, errOut := runCmd(t, ctx, "serve", "--config", path); code != 0 {
		t.Fatalf("second serve: %d %s", code, errOut)
	}
	hk2, _ := os.ReadFile(keys.HostKeyPath(data))
	if !bytes.Equal(hk1, hk2) {
		t.Error("host key changed across restarts")
	}
	_, out2, _ := runCmd(t, context.Background(), "ledger", "verify", "--data", data)
	if out2 != out {
		t.Errorf("unchanged config changed the ledger: %q then %q", out, out2)
	}
}

func TestPolicyFor(t *testing.T) {
	c, err := config.Parse([]byte("policy: company\nretention:\n  days: 14\nstorage:\n  hold_share: 0.1\npolicy_overrides:\n  live_view: false\n  max_extension_days: 5\n"), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p, err := appliance.PolicyFor(c)
	if err != nil {
		t.Fatal(err)
	}
	base := core.CompanyTemplate()
	if p.Name != base.Name || p.RetentionDays != 14 || p.HoldShare != 0.1 || p.LiveViewAllowed || p.MaxExtensionDays != 5 || p.ViewerGrantsAllowed != base.ViewerGrantsAllowed {
		t.Errorf("policy = %+v", p)
	}
	c2, _ := config.Parse(nil, t.TempDir())
	p2, _ := appliance.PolicyFor(c2)
	if p2.Name != core.CityStandard().Name || p2.RetentionDays != core.CityStandard().RetentionDays {
		t.Errorf("default policy = %+v", p2)
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"help"}, {"-h"},
		{"demo", "--help"}, {"serve", "--help"}, {"simcam", "--help"}, {"verify", "--help"},
		{"ledger", "--help"}, {"ledger", "verify", "--help"},
		{"keys", "--help"}, {"keys", "add", "-h"}, {"help", "serve"},
	} {
		code, out, errOut := runCmd(t, context.Background(), args...)
		if code != 0 || !strings.Contains(out, "Usage") || errOut != "" {
			t.Errorf("%v: code %d\nstdout: %s\nstderr: %s", args, code, out, errOut)
		}
	}
	code, out, _ := runCmd(t, context.Background(), "keys", "add", "--help")
	for _, want := range []string{"--data DIR", "--role ROLE", "--name NAME", "PUBKEY_FILE"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("keys add --help lacks %q:\n%s", want, out)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{}, {"frobnicate"}, {"keys"}, {"keys", "remove"}, {"ledger", "check"},
		{"serve"}, {"serve", "--config"}, {"simcam", "--cameras", "0"}, {"simcam", "--codec", "vp9"},
		{"simcam", "--bitrate", "fast"},
	} {
		code, _, errOut := runCmd(t, context.Background(), args...)
		if code != 2 || errOut == "" {
			t.Errorf("%v: code %d stderr %q", args, code, errOut)
		}
	}
}

func TestParseBitrate(t *testing.T) {
	good := map[string]int64{"4M": 4_000_000, "500k": 500_000, "2.5M": 2_500_000, "4000000": 4_000_000, "1G": 1_000_000_000}
	for s, want := range good {
		if got, err := parseBitrate(s); err != nil || got != want {
			t.Errorf("parseBitrate(%q) = %d, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "M", "-4M", "0", "fast", "4MB", "1e20", "NaN"} {
		if got, err := parseBitrate(s); err == nil {
			t.Errorf("parseBitrate(%q) = %d, want error", s, got)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a writer goroutine and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestSimcamPrintsURLsAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"simcam", "--listen", "127.0.0.1:0", "--cameras", "3"}, &out, &errOut)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "/cam3") {
		select {
		case code := <-done:
			t.Fatalf("simcam exited early: %d\n%s", code, errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no camera URLs printed; stdout %q stderr %q", out.String(), errOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !regexp.MustCompile(`rtsp://127\.0\.0\.1:\d+/cam1`).MatchString(out.String()) {
		t.Errorf("stdout %q", out.String())
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("simcam exit %d after cancel: %s", code, errOut.String())
	}
}
