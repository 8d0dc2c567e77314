package e2e

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"mimamori/appliance"
	"mimamori/config"
	"mimamori/core"
	"mimamori/simcam"
)

// served is the appliance exactly as `mimamori serve` runs it: config
// parsed from YAML, appliance.Open and Start, with metrics on. Each
// simulated camera has its own RTSP server, so a test can stop one.
type served struct {
	t       *testing.T
	cfg     *config.Config
	app     *appliance.Appliance
	run     *appliance.Running
	cams    []*simcam.Server // cams[i] serves cam(i+1)
	manager person
	logs    *logBuf
	log     *slog.Logger
	cancel  context.CancelFunc
	stopped bool
}

// startCameras starts n simulated 1 Mbit/s H.264 cameras, one server each.
func startCameras(t *testing.T, n int, log *slog.Logger) []*simcam.Server {
	t.Helper()
	var cams []*simcam.Server
	for range n {
		c, err := simcam.New(simcam.Options{Listen: "127.0.0.1:0", Cameras: 1, Codec: "h264", Bitrate: 1_000_000, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cams = append(cams, c)
		t.Cleanup(c.Close)
	}
	return cams
}

// configYAML is a serve config for dataDir recording cams; metrics and
// every port on 127.0.0.1:0.
func configYAML(dataDir string, cams []*simcam.Server) string {
	var b strings.Builder
	fmt.Fprintf(&b, `data_dir: %s
ssh:
  listen: "127.0.0.1:0"
  playback_port: 0
storage:
  capacity: 64MiB
  block_size: 1MiB
  hold_share: 0.5
metrics:
  listen: "127.0.0.1:0"
lang: en
timezone: UTC
cameras:
`, dataDir)
	for i, c := range cams {
		fmt.Fprintf(&b, "  - id: cam%d\n    name: camera %d\n    url: %s\n", i+1, i+1, c.URL(1))
	}
	return b.String()
}

// serveAppliance opens and starts an appliance on dataDir recording cams,
// with a manager key enrolled (unless the database already has one).
func serveAppliance(t *testing.T, dataDir string, cams []*simcam.Server, manager *person) *served {
	t.Helper()
	s := &served{t: t, cams: cams, logs: &logBuf{}}
	s.log = slog.New(slog.NewTextHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg, err := config.Parse([]byte(configYAML(dataDir, cams)), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s.cfg = cfg
	app, err := appliance.Open(cfg, s.log)
	if err != nil {
		t.Fatal(err)
	}
	s.app = app
	if manager == nil {
		s.manager = newPerson(t, "管理 花子", core.RoleManager)
		enrollPerson(t, app.Store, s.manager)
	} else {
		s.manager = *manager
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	run, err := app.Start(ctx, s.log)
	if err != nil {
		cancel()
		app.Close()
		t.Fatal(err)
	}
	s.run = run
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("appliance log (tail):\n%s", tail(s.logs.String(), 60))
		}
	})
	return s
}

// stop stops the appliance (idempotent).
func (s *served) stop() {
	if s.stopped {
		return
	}
	s.stopped = true
	s.cancel()
	s.run.Stop(s.log)
	if err := s.app.Close(); err != nil {
		s.t.Errorf("closing core: %v", err)
	}
}

func newPerson(t *testing.T, name string, role core.Role) person {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sg, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return person{name: name, role: role, signer: sg}
}

func enrollPerson(t *testing.T, st *core.Store, p person) {
	t.Helper()
	line := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(p.signer.PublicKey())))
	if _, err := st.EnrollKey(core.SystemActor("e2e"), p.name, p.role, line); err != nil {
		t.Fatalf("enroll %s: %v", p.name, err)
	}
}

// waitRecording returns once every camera is recording, or fails.
func (s *served) waitRecording(within time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(within)
	for {
		st := s.run.Recorder().Stats()
		n := 0
		for _, c := range st.Cameras {
			if c.State == "recording" && c.FramesReceived > 0 {
				n++
			}
		}
		if n == len(s.cams) {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%d of %d cameras recording after %s: %+v", n, len(s.cams), within, st.Cameras)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sshTo runs cmd as p against the console at addr, stdout to out. With
// pty it asks for a terminal first, as `ssh -t` does.
func sshTo(t *testing.T, addr string, p person, cmd string, out io.Writer, pty bool) (stderr string, code int) {
	t.Helper()
	c, err := gossh.Dial("tcp", addr, &gossh.ClientConfig{
		User:            "mimamori",
		Auth:            []gossh.AuthMethod{gossh.PublicKeys(p.signer)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(),
		Timeout:         10 * time.Second,
	})
	if err != nil {
		t.Fatalf("ssh %s as %s: %v", addr, p.name, err)
	}
	defer c.Close()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if pty {
		if err := sess.RequestPty("xterm", 24, 80, gossh.TerminalModes{}); err != nil {
			t.Fatal(err)
		}
	}
	var errb strings.Builder
	sess.Stdout, sess.Stderr = out, &errb
	err = sess.Run(cmd)
	var ee *gossh.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitStatus()
	case err != nil:
		t.Fatalf("ssh %q: %v", cmd, err)
	}
	return errb.String(), code
}

func tail(s string, lines int) string {
	ls := strings.Split(s, "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}

// repoFile is a path in the repository (tests run in e2e/).
func repoFile(t *testing.T, rel string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", rel))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	return p
}
