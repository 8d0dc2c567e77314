// Package e2e drives the real appliance — simulated RTSP cameras, core on
// bbolt, the recorder writing the ring, the export engine and the SSH
// console — over real SSH sessions, as a script or a person would.
package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"mimamori/core"
	"mimamori/recorder"
	"mimamori/simcam"
	"mimamori/sshd"
)

// logBuf collects the appliance's log; shown when a test fails and
// searched for leaked secrets.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// person is an enrolled key.
type person struct {
	name   string
	role   core.Role
	signer gossh.Signer
}

// rig is one running appliance.
type rig struct {
	t         *testing.T
	dir       string
	exportDir string
	cams      *simcam.Server
	store     *core.Store
	rec       *recorder.Recorder
	srv       *sshd.Server
	addr      string
	logs      *logBuf
	started   time.Time // just before recording started
	exporter  bool      // the export engine is attached
	hostFP    string    // the appliance's host key, which signs packages

	manager, operator, technician person
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func (r *rig) enroll(name string, role core.Role) person {
	r.t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		r.t.Fatal(err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		r.t.Fatal(err)
	}
	line := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(s.PublicKey())))
	if _, err := r.store.EnrollKey(core.SystemActor("e2e"), name, role, line); err != nil {
		r.t.Fatalf("enroll %s: %v", name, err)
	}
	return person{name: name, role: role, signer: s}
}

// startRig starts two simulated cameras, core, the recorder (recording
// into a 64 MiB ring) and the SSH console on 127.0.0.1:0. Everything
// stops when the test ends.
func startRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{t: t, dir: t.TempDir(), exportDir: t.TempDir(), logs: &logBuf{}}
	log := slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))

	cams, err := simcam.New(simcam.Options{Listen: "127.0.0.1:0", Cameras: 2, Codec: "h264", Bitrate: 1_000_000, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := cams.Start(); err != nil {
		t.Fatal(err)
	}
	r.cams = cams

	st, err := core.Open(filepath.Join(r.dir, "mimamori.db"), core.Options{Logger: log})
	if err != nil {
		cams.Close()
		t.Fatal(err)
	}
	r.store = st
	if err := st.SyncCameras(core.SystemActor("config"), []core.Camera{
		{ID: "cam1", Number: "1", Name: "駅前広場", Location: "四街道駅北口", URL: cams.URL(1)},
		{ID: "cam2", Number: "2", Name: "商店街東口", Location: "中央商店街 東口", URL: cams.URL(2)},
	}); err != nil {
		t.Fatal(err)
	}
	r.manager = r.enroll("管理 花子", core.RoleManager)
	r.operator = r.enroll("担当 太郎", core.RoleOperator)
	r.technician = r.enroll("保守 次郎", core.RoleTechnician)

	rec, err := recorder.New(recorder.Options{
		DataDir:      r.dir,
		Capacity:     64 << 20,
		BlockSize:    1 << 20,
		HoldShare:    0.5,
		Retention:    24 * time.Hour,
		SyncInterval: 200 * time.Millisecond,
		Cameras:      []recorder.Camera{{ID: "cam1", URL: cams.URL(1)}, {ID: "cam2", URL: cams.URL(2)}},
		Ledger:       st,
		Logger:       log,
	})
	if err != nil {
		t.Fatal(err)
	}
	r.rec = rec
	st.SetFootage(rec)
	attachExporter(t, r)

	srv, err := sshd.New(sshd.Options{
		DataDir:     r.dir,
		Core:        st,
		Logger:      log,
		Lang:        "en",
		ExportDir:   r.exportDir,
		PerAddrRate: sshd.Rate{N: 10000, Per: time.Second},
		// Workflows run many commands with one key in a row; the attack
		// suite runs the real binary with its defaults.
		PerKeySessionRate: sshd.Rate{N: 10000, Per: time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	r.srv = srv
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = l.Addr().String()

	ctx, cancel := context.WithCancel(context.Background())
	recDone := make(chan struct{})
	served := make(chan error, 1)
	r.started = time.Now()
	go func() { defer close(recDone); rec.Run(ctx) }()
	go func() { served <- srv.Serve(l) }()
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		_ = srv.Shutdown(sctx)
		if err := <-served; !errors.Is(err, sshd.ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
		cancel()
		<-recDone
		if err := rec.Close(); err != nil {
			t.Errorf("closing the ring: %v", err)
		}
		cams.Close()
		if err := st.Close(); err != nil {
			t.Errorf("closing core: %v", err)
		}
		if t.Failed() {
			t.Logf("appliance log:\n%s", r.logs.String())
		}
	})
	return r
}

// result of one SSH command.
type result struct {
	stdout, stderr string
	code           int
}

// ssh runs one command in its own SSH connection and session as p, with
// stdin if given.
func (r *rig) ssh(p person, cmd string, stdin ...string) result {
	r.t.Helper()
	c, err := gossh.Dial("tcp", r.addr, &gossh.ClientConfig{
		User:            "mimamori",
		Auth:            []gossh.AuthMethod{gossh.PublicKeys(p.signer)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(),
		Timeout:         10 * time.Second,
	})
	if err != nil {
		r.t.Fatalf("ssh as %s: %v", p.name, err)
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		r.t.Fatalf("session: %v", err)
	}
	defer s.Close()
	var out, errb bytes.Buffer
	s.Stdout, s.Stderr = &out, &errb
	if len(stdin) > 0 {
		s.Stdin = strings.NewReader(strings.Join(stdin, ""))
	}
	err = s.Run(cmd)
	res := result{}
	var ee *gossh.ExitError
	switch {
	case errors.As(err, &ee):
		res.code = ee.ExitStatus()
	case err != nil:
		r.t.Fatalf("ssh %q: %v", cmd, err)
	}
	res.stdout, res.stderr = out.String(), errb.String()
	return res
}

// must runs cmd and fails the test unless it exits 0.
func (r *rig) must(p person, cmd string, stdin ...string) string {
	r.t.Helper()
	res := r.ssh(p, cmd, stdin...)
	if res.code != 0 {
		r.t.Fatalf("%s (as %s): exit %d\nstderr: %s", cmd, p.role, res.code, res.stderr)
	}
	return res.stdout
}

// mustJSON runs cmd and decodes its stdout into v.
func (r *rig) mustJSON(p person, cmd string, v any) {
	r.t.Helper()
	out := r.must(p, cmd)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		r.t.Fatalf("%s: not JSON: %v\n%s", cmd, err, out)
	}
}

// ledgerEntry is the subset of `ledger --json` the tests look at.
type ledgerEntry struct {
	Seq   uint64 `json:"seq"`
	Time  string `json:"time"`
	Actor struct {
		Name string `json:"name"`
		Role string `json:"role"`
	} `json:"actor"`
	Action  string            `json:"action"`
	Subject string            `json:"subject"`
	Details map[string]string `json:"details"`
}

func (r *rig) ledger() []ledgerEntry {
	r.t.Helper()
	var es []ledgerEntry
	r.mustJSON(r.manager, "ledger --json --limit 10000", &es)
	return es
}

// find returns the entries with action and subject.
func find(es []ledgerEntry, action, subject string) []ledgerEntry {
	var out []ledgerEntry
	for _, e := range es {
		if e.Action == action && (subject == "" || e.Subject == subject) {
			out = append(out, e)
		}
	}
	return out
}
