package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"mimamori/appliance"
	"mimamori/core"
)

// builtBinary is this program, built once for the tests that run it as a
// separate process (as an installation does).
var builtBinary struct {
	once sync.Once
	path string
	err  error
}

func mimamoriBinary(t *testing.T) string {
	t.Helper()
	builtBinary.once.Do(func() {
		dir, err := os.MkdirTemp("", "mimamori-bin-")
		if err != nil {
			builtBinary.err = err
			return
		}
		builtBinary.path = filepath.Join(dir, "mimamori")
		if out, err := exec.Command("go", "build", "-o", builtBinary.path, ".").CombinedOutput(); err != nil {
			builtBinary.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if builtBinary.err != nil {
		t.Fatal(builtBinary.err)
	}
	return builtBinary.path
}

// lockedBuffer collects a process's output for the test to search.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startProcess runs bin args; the returned buffer has its stderr. The
// process is killed when the test ends unless stopped before.
func startProcess(t *testing.T, stdout io.Writer, bin string, args ...string) (*exec.Cmd, *lockedBuffer) {
	t.Helper()
	var errb lockedBuffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = stdout, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd, &errb
}

var listeningRE = regexp.MustCompile(`msg="console listening" addr=(\S+)`)

// TestWrappingRingErasureProofs runs the real binary against 16
// simulated cameras at 4 Mbit/s on a ring small enough to wrap several
// times, walks the recording index's history through `health --json`
// (each camera's oldest footage), and checks that the erasure entries
// cover all the footage that disappeared, at most two per camera.
// MIMAMORI_WRAP_FULL=1 runs issue 9's configuration (256 MiB ring, 4 MiB
// blocks, 2 minutes; `just wrap-test`); the default is a 64 MiB ring of
// 1 MiB blocks for 40 s.
func TestWrappingRingErasureProofs(t *testing.T) {
	capacity, blockSize, run := "64MiB", "1MiB", 40*time.Second
	if os.Getenv("MIMAMORI_WRAP_FULL") != "" {
		capacity, blockSize, run = "256MiB", "4MiB", 2*time.Minute
	}
	const cameras = 16
	bin := mimamoriBinary(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")

	// Cameras.
	pr, pw := io.Pipe()
	simcam, simErr := startProcess(t, pw, bin, "simcam", "--listen", "127.0.0.1:0", "--cameras", fmt.Sprint(cameras), "--bitrate", "4M")
	var urls []string
	sc := bufio.NewScanner(pr)
	for len(urls) < cameras && sc.Scan() {
		if strings.HasPrefix(sc.Text(), "rtsp://") {
			urls = append(urls, strings.TrimSpace(sc.Text()))
		}
	}
	if len(urls) != cameras {
		t.Fatalf("simcam printed %d URLs\n%s", len(urls), simErr.String())
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()

	// The appliance.
	keyDir := filepath.Join(dir, "keys")
	pub := genKey(t, keyDir, "manager")
	if out, err := exec.Command(bin, "keys", "add", "--data", data, "--role", "manager", "--name", "manager", pub).CombinedOutput(); err != nil {
		t.Fatalf("keys add: %v\n%s", err, out)
	}
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "data_dir: data\nssh:\n  listen: 127.0.0.1:0\n  playback_port: 0\nstorage:\n  capacity: %s\n  block_size: %s\n  hold_share: 0.1\ncameras:\n", capacity, blockSize)
	for i, u := range urls {
		fmt.Fprintf(&cfg, "  - id: cam%d\n    url: %s\n", i+1, u)
	}
	cfgPath := filepath.Join(dir, "mimamori.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	serve, serveErr := startProcess(t, io.Discard, bin, "serve", "--config", cfgPath)
	var addr string
	for deadline := time.Now().Add(30 * time.Second); addr == ""; time.Sleep(50 * time.Millisecond) {
		if m := listeningRE.FindStringSubmatch(serveErr.String()); m != nil {
			addr = m[1]
		} else if time.Now().After(deadline) || serve.ProcessState != nil {
			t.Fatalf("serve did not start:\n%s", serveErr.String())
		}
	}
	defer func() {
		if t.Failed() {
			t.Logf("serve log (tail):\n%s", tail(serveErr.String(), 4000))
		}
	}()

	// Walk the index: every camera's oldest footage, every 2.5 s (the
	// default per-key session rate is 3 per 6 s).
	pem, err := os.ReadFile(filepath.Join(keyDir, "manager"))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		t.Fatal(err)
	}
	client, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{User: "m", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	firstOldest, lastOldest := map[string]time.Time{}, map[string]time.Time{}
	snapshots := 0
	for end := time.Now().Add(run); time.Now().Before(end); {
		sess, err := client.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		out, err := sess.Output("health --json")
		sess.Close()
		if err != nil {
			t.Fatalf("health: %v", err)
		}
		var h struct {
			Cameras []struct {
				Camera string `json:"camera"`
				Oldest string `json:"oldest"`
			} `json:"cameras"`
		}
		if err := json.Unmarshal(out, &h); err != nil {
			t.Fatalf("health --json: %v\n%s", err, out)
		}
		for _, c := range h.Cameras {
			o, err := time.Parse(time.RFC3339Nano, c.Oldest)
			if err != nil {
				continue // nothing recorded yet
			}
			if _, ok := firstOldest[c.Camera]; !ok {
				firstOldest[c.Camera] = o
			}
			if o.Before(lastOldest[c.Camera]) {
				t.Errorf("%s: oldest footage went back from %s to %s", c.Camera, lastOldest[c.Camera], o)
			}
			lastOldest[c.Camera] = o
		}
		snapshots++
		time.Sleep(2500 * time.Millisecond)
	}
	client.Close()
	_ = serve.Process.Signal(syscall.SIGTERM)
	if err := serve.Wait(); err != nil {
		t.Fatalf("serve: %v\n%s", err, tail(serveErr.String(), 4000))
	}
	_ = simcam.Process.Signal(syscall.SIGTERM)
	_ = simcam.Wait()

	// The proofs.
	st, err := core.Open(appliance.DBPath(data), core.Options{Logger: discardLogger(), ManualTick: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	proofs := map[string][]core.Entry{}
	for since := uint64(0); ; {
		es, err := st.Ledger(core.Actor{Fingerprint: "test", Name: "test", Role: core.RoleManager}, since, 10000)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			if e.Action == core.ActionErasure {
				proofs[e.Subject] = append(proofs[e.Subject], e)
			}
		}
		if len(es) < 10000 {
			break
		}
		since = es[len(es)-1].Seq + 1
	}
	wrapped := 0
	for i := 1; i <= cameras; i++ {
		cam := fmt.Sprintf("cam%d", i)
		es := proofs[cam]
		if len(es) > 2 {
			t.Errorf("%s: %d erasure entries in %s, want at most 2", cam, len(es), run)
		}
		first, last := firstOldest[cam], lastOldest[cam]
		if !last.After(first) {
			continue // this camera's footage never wrapped while watched
		}
		wrapped++
		spans := erasureSpans(t, es)
		if gap := uncovered(spans, first, last); gap != "" {
			t.Errorf("%s: footage %s..%s disappeared, but %s is in no erasure entry; entries: %v", cam, first.Format(time.RFC3339Nano),
				last.Format(time.RFC3339Nano), gap, spans)
		}
	}
	if wrapped < cameras/2 {
		t.Fatalf("only %d of %d cameras wrapped in %s (%d snapshots): the test proved little", wrapped, cameras, run, snapshots)
	}
	t.Logf("%d snapshots; %d cameras wrapped; erasure entries per camera: %v", snapshots, wrapped, countsOf(proofs))
}

type span struct{ from, to time.Time }

// erasureSpans reads the footage ranges of erasure entries, merged.
func erasureSpans(t *testing.T, es []core.Entry) []span {
	t.Helper()
	var out []span
	parse := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatalf("erasure entry time %q: %v", s, err)
		}
		return v
	}
	for _, e := range es {
		if s := e.Details["spans"]; s != "" {
			for _, p := range strings.Fields(s) {
				a, b, _ := strings.Cut(p, "/")
				out = append(out, span{parse(a), parse(b)})
			}
		} else {
			out = append(out, span{parse(e.Details["from"]), parse(e.Details["to"])})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].from.Before(out[j].from) })
	return out
}

// uncovered returns the first part of [from, to) in none of spans ("" if
// all is covered; spans that touch within 2 s count as one, as core
// merges adjacent blocks).
func uncovered(spans []span, from, to time.Time) string {
	at := from
	for _, s := range spans {
		if s.from.After(at.Add(2 * time.Second)) {
			break
		}
		if s.to.After(at) {
			at = s.to
		}
	}
	if at.Before(to) {
		return at.Format(time.RFC3339Nano) + ".."
	}
	return ""
}

func countsOf(m map[string][]core.Entry) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		out[k] = len(v)
	}
	return out
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
