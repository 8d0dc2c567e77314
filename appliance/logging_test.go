package appliance

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"mimamori/config"
	"mimamori/core"
	"mimamori/simcam"
)

// attrCheck is a slog.Handler that records every record's full key list
// (With attributes and groups included) and flags a key given twice.
type attrCheck struct {
	mu    *sync.Mutex
	dups  *[]string
	count *int
	pre   []string // keys added by WithAttrs, group-qualified
	group string
}

func newAttrCheck() *attrCheck {
	return &attrCheck{mu: &sync.Mutex{}, dups: new([]string), count: new(int)}
}

func (h *attrCheck) Enabled(context.Context, slog.Level) bool { return true }

func (h *attrCheck) qualify(k string) string {
	if h.group == "" {
		return k
	}
	return h.group + "." + k
}

func (h *attrCheck) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.pre = slices.Clone(h.pre)
	for _, a := range as {
		c.pre = append(c.pre, c.qualify(a.Key))
	}
	return &c
}

func (h *attrCheck) WithGroup(name string) slog.Handler {
	c := *h
	c.group = h.qualify(name)
	return &c
}

func (h *attrCheck) Handle(_ context.Context, r slog.Record) error {
	keys := slices.Clone(h.pre)
	r.Attrs(func(a slog.Attr) bool { keys = append(keys, h.qualify(a.Key)); return true })
	seen := map[string]bool{}
	h.mu.Lock()
	defer h.mu.Unlock()
	*h.count++
	for _, k := range keys {
		if seen[k] {
			*h.dups = append(*h.dups, r.Message+": "+k+" in "+strings.Join(keys, ","))
		}
		seen[k] = true
	}
	return nil
}

// Every log record of a running appliance — recording, the console, a
// refused key, stopping — names each attribute once (it used to say
// camera=cam1 camera=cam1 and component=recorder component=ring).
func TestLogAttributesOnce(t *testing.T) {
	cams, err := simcam.New(simcam.Options{Listen: "127.0.0.1:0", Cameras: 2, Codec: "h264", Bitrate: 1_000_000})
	if err != nil {
		t.Fatal(err)
	}
	if err := cams.Start(); err != nil {
		t.Fatal(err)
	}
	defer cams.Close()
	cfg := testConfig(t)
	cfg.Metrics.Listen = "127.0.0.1:0"
	cfg.SSH.PlaybackPort = 0
	cfg.Cameras = []config.Camera{{ID: "cam1", Number: 1, URL: cams.URL(1)}, {ID: "cam2", Number: 2, URL: cams.URL(2)}}
	check := newAttrCheck()
	log := slog.New(check)
	app, err := Open(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	manager := signer(t)
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(manager.PublicKey())))
	if _, err := app.Store.EnrollKey(core.SystemActor("test"), "管理 花子", core.RoleManager, line); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	run, err := app.Start(ctx, log)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for n := 0; n < 2; {
		n = 0
		for _, c := range run.Recorder().Stats().Cameras {
			if c.FramesReceived > 0 {
				n++
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("cameras not recording")
		}
		time.Sleep(50 * time.Millisecond)
	}
	addr := run.SSHAddr().String()
	for _, s := range []ssh.Signer{manager, signer(t)} { // enrolled, then refused
		c, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{User: "x", Auth: []ssh.AuthMethod{ssh.PublicKeys(s)},
			HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second})
		if err != nil {
			continue // the refused key
		}
		sess, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		if out, err := sess.CombinedOutput("health"); err != nil {
			t.Fatalf("health: %v %s", err, out)
		}
		c.Close()
	}
	cancel()
	run.Stop(log)

	check.mu.Lock()
	defer check.mu.Unlock()
	if *check.count < 10 {
		t.Fatalf("only %d records logged; the test saw too little", *check.count)
	}
	for _, d := range *check.dups {
		t.Errorf("attribute given twice: %s", d)
	}
}

func signer(t *testing.T) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The level filters and JSON gives one object per line a log shipper can
// parse.
func TestNewLoggerLevelAndFormat(t *testing.T) {
	var b bytes.Buffer
	log := NewLogger(&b, config.Log{Level: slog.LevelWarn, Format: config.LogJSON})
	log.Info("hidden", "camera", "cam1")
	log.With("component", "ring").Warn("shown", "camera", "cam1")
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one line, got %q", b.String())
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["msg"] != "shown" || rec["component"] != "ring" || rec["camera"] != "cam1" || rec["level"] != "WARN" {
		t.Fatalf("record %v", rec)
	}
}
