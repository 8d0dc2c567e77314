package e2e

// The attack suite (issue 11): each attack a hostile client or a hostile
// enrolled key tried against release 28ba08b, run against the real
// `mimamori serve` process over loopback SSH, asserting that it fails.
//
// MIMAMORI_ATTACK_BIN=/path/to/old/mimamori runs the same attacks against
// another build (the "before" column of the report); the tests then log
// what the attacks achieved and fail where the old release is vulnerable.
// Every test logs one "ATTACK name: ..." line with its numbers.

import (
	"bufio"
	"bytes"
	"crypto/dsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	gossh "golang.org/x/crypto/ssh"

	"mimamori/appliance"
	"mimamori/core"
	"mimamori/simcam"
)

// target is one `mimamori serve` process with enrolled keys.
type target struct {
	t      *testing.T
	bin    string
	dir    string
	data   string
	conf   string
	addr   string
	cmd    *exec.Cmd
	log    *logBuf
	exited chan struct{}
	keys   map[string]gossh.Signer
	cams   *simcam.Server
}

func attackBin(t *testing.T) string {
	if b := os.Getenv("MIMAMORI_ATTACK_BIN"); b != "" {
		t.Logf("attacking %s", b)
		return b
	}
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return mimamoriBin
}

func ed25519Signer(t *testing.T) gossh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newTarget enrols people (name -> role) offline with `mimamori keys
// add` and writes a config; cameras > 0 adds simulated cameras.
func newTarget(t *testing.T, cameras int, people map[string]string) *target {
	t.Helper()
	tg := &target{t: t, bin: attackBin(t), dir: t.TempDir(), log: &logBuf{}, keys: map[string]gossh.Signer{}}
	tg.data = filepath.Join(tg.dir, "data")
	for name, role := range people {
		s := ed25519Signer(t)
		tg.enrol(name, role, s)
		tg.keys[name] = s
	}
	camYAML := ""
	if cameras > 0 {
		cs, err := simcam.New(simcam.Options{Listen: "127.0.0.1:0", Cameras: cameras, Codec: "h264", Bitrate: 2_000_000})
		if err != nil {
			t.Fatal(err)
		}
		if err := cs.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cs.Close() })
		tg.cams = cs
		camYAML = "cameras:\n"
		for i := 1; i <= cameras; i++ {
			camYAML += fmt.Sprintf("  - id: cam%d\n    url: %s\n", i, cs.URL(i))
		}
	}
	tg.addr = freeAddr(t)
	tg.conf = filepath.Join(tg.dir, "mimamori.yaml")
	conf := fmt.Sprintf(`data_dir: %s
export_dir: %s
ssh:
  listen: "%s"
storage:
  capacity: 64MiB
  block_size: 1MiB
  hold_share: 0.25
retention:
  days: 7
lang: en
%s`, tg.data, filepath.Join(tg.dir, "exports"), tg.addr, camYAML)
	if err := os.WriteFile(tg.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	tg.start()
	return tg
}

func (tg *target) enrol(name, role string, s gossh.Signer) {
	tg.t.Helper()
	pub := filepath.Join(tg.dir, fmt.Sprintf("key%d.pub", len(tg.keys)))
	if err := os.WriteFile(pub, gossh.MarshalAuthorizedKey(s.PublicKey()), 0o600); err != nil {
		tg.t.Fatal(err)
	}
	out, err := exec.Command(tg.bin, "keys", "add", "--data", tg.data, "--role", role, "--name", name, pub).CombinedOutput()
	if err != nil {
		tg.t.Fatalf("keys add %s: %v\n%s", name, err, out)
	}
}

func (tg *target) start() {
	tg.t.Helper()
	tg.cmd = exec.Command(tg.bin, "serve", "--config", tg.conf)
	tg.cmd.Stdout, tg.cmd.Stderr = tg.log, tg.log
	if err := tg.cmd.Start(); err != nil {
		tg.t.Fatal(err)
	}
	tg.exited = make(chan struct{})
	go func() { _ = tg.cmd.Wait(); close(tg.exited) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", tg.addr, time.Second)
		if err == nil {
			// Wait for the SSH banner: the listener is the server's.
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			line, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if strings.HasPrefix(line, "SSH-2.0") {
				break
			}
		}
		select {
		case <-tg.exited:
			tg.t.Fatalf("serve exited:\n%s", tg.log.String())
		default:
		}
		if time.Now().After(deadline) {
			tg.t.Fatalf("serve did not listen on %s:\n%s", tg.addr, tg.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	tg.t.Cleanup(func() {
		tg.stop()
		if tg.t.Failed() {
			tg.t.Logf("serve log (tail):\n%s", tailBytes(tg.log.String(), 4000))
		}
	})
}

// stop ends serve with SIGTERM (a clean shutdown writes what is pending).
func (tg *target) stop() {
	if tg.cmd == nil || tg.cmd.Process == nil {
		return
	}
	select {
	case <-tg.exited:
		return
	default:
	}
	_ = tg.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-tg.exited:
	case <-time.After(40 * time.Second):
		_ = tg.cmd.Process.Kill()
		<-tg.exited
	}
}

func tailBytes(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// cpu is the server process's CPU time so far: the sum over its threads
// of the scheduler's on-CPU nanoseconds (Go keeps its threads).
func (tg *target) cpu() time.Duration {
	tg.t.Helper()
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", tg.cmd.Process.Pid))
	if err != nil || len(tasks) == 0 {
		tg.t.Skipf("no /proc schedstat for the server: %v", err)
	}
	var ns int64
	for _, p := range tasks {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // a thread that just ended
		}
		f := strings.Fields(string(b))
		if len(f) > 0 {
			v, _ := strconv.ParseInt(f[0], 10, 64)
			ns += v
		}
	}
	return time.Duration(ns)
}

var intactRE = regexp.MustCompile(`ledger intact: (\d+) entries`)

// ledgerCount stops the server and counts the ledger offline.
func (tg *target) ledgerCount() int {
	tg.t.Helper()
	tg.stop()
	out, err := exec.Command(tg.bin, "ledger", "verify", "--data", tg.data).CombinedOutput()
	m := intactRE.FindSubmatch(out)
	if err != nil || m == nil {
		tg.t.Fatalf("ledger verify: %v\n%s", err, out)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

func clientConf(s gossh.Signer) *gossh.ClientConfig {
	return &gossh.ClientConfig{
		User:            "mimamori",
		Auth:            []gossh.AuthMethod{gossh.PublicKeys(s)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(),
		Timeout:         10 * time.Second,
	}
}

// dialFrom connects from a chosen loopback address (127.0.0.0/8 is all
// local on Linux), so attacker and victim can be different addresses.
func dialFrom(local, addr string, conf *gossh.ClientConfig) (*gossh.Client, error) {
	d := net.Dialer{Timeout: conf.Timeout}
	if local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(conf.Timeout))
	sc, chans, reqs, err := gossh.NewClientConn(c, addr, conf)
	if err != nil {
		c.Close()
		return nil, err
	}
	_ = c.SetDeadline(time.Time{})
	return gossh.NewClient(sc, chans, reqs), nil
}

// run runs one command as name over a new connection from local.
func (tg *target) run(local, name, cmd string, stdin ...string) (result, error) {
	c, err := dialFrom(local, tg.addr, clientConf(tg.keys[name]))
	if err != nil {
		return result{}, err
	}
	defer c.Close()
	return runOn(c, cmd, stdin...)
}

func runOn(c *gossh.Client, cmd string, stdin ...string) (result, error) {
	s, err := c.NewSession()
	if err != nil {
		return result{}, err
	}
	defer s.Close()
	var out, errb bytes.Buffer
	s.Stdout, s.Stderr = &out, &errb
	if len(stdin) > 0 {
		s.Stdin = strings.NewReader(strings.Join(stdin, ""))
	}
	err = s.Run(cmd)
	res := result{stdout: out.String(), stderr: errb.String()}
	var ee *gossh.ExitError
	if errors.As(err, &ee) {
		res.code, err = ee.ExitStatus(), nil
	}
	return res, err
}

func (tg *target) must(name, cmd string, stdin ...string) string {
	tg.t.Helper()
	res, err := tg.run("", name, cmd, stdin...)
	if err != nil || res.code != 0 {
		tg.t.Fatalf("%s: %q: %v exit %d\n%s%s", name, cmd, err, res.code, res.stdout, res.stderr)
	}
	return res.stdout
}

// A stranger holds 64 unauthenticated connections from one address (a
// burst, then 2.5 new ones a second, under the per-address rate, as long
// as each lives); a manager must still log in, within 2 s — from another
// address and from the attacker's own.
func TestAttackUnauthenticatedFlood(t *testing.T) {
	tg := newTarget(t, 0, map[string]string{"manager": "manager"})
	const attacker = "127.0.0.2"
	var mu sync.Mutex
	var held []net.Conn
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	dial := func() {
		d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(attacker)}}
		c, err := d.Dial("tcp", tg.addr)
		if err != nil {
			return
		}
		// Speak just enough SSH to look like a slow client.
		_, _ = c.Write([]byte("SSH-2.0-slowloris\r\n"))
		mu.Lock()
		held = append(held, c)
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for i := 0; i < 30; i++ { // the per-address burst
		wg.Add(1)
		go func() { defer wg.Done(); dial() }()
	}
	wg.Wait()
	for i := 30; i < 64; i++ {
		time.Sleep(400 * time.Millisecond)
		dial()
	}
	time.Sleep(300 * time.Millisecond)
	open := 0
	mu.Lock()
	for _, c := range held {
		// Open means still waiting for us; closed ones end in EOF.
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
		if _, err := io.Copy(io.Discard, c); isTimeout(err) {
			open++
		}
	}
	mu.Unlock()
	for _, from := range []string{"127.0.0.1", attacker} {
		start := time.Now()
		res, err := tg.run(from, "manager", "whoami")
		took := time.Since(start)
		t.Logf("ATTACK unauth-flood: 64 dialled from %s over 14 s, %d still open; manager from %s: err=%v exit=%d in %v",
			attacker, open, from, err, res.code, took.Round(time.Millisecond))
		if err != nil || res.code != 0 {
			t.Errorf("manager from %s locked out by unauthenticated connections: %v %q", from, err, res.stderr)
		} else if took > 2*time.Second {
			t.Errorf("manager from %s took %v to log in (want within 2 s)", from, took)
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// One technician key opens 40 console sessions on one connection; a
// manager must still log in.
func TestAttackOneKeyTakesEverySession(t *testing.T) {
	tg := newTarget(t, 0, map[string]string{"manager": "manager", "tech": "technician"})
	c, err := dialFrom("", tg.addr, clientConf(tg.keys["tech"]))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var opened atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := c.NewSession()
			if err != nil {
				return
			}
			if err := s.RequestPty("xterm", 24, 80, gossh.TerminalModes{}); err != nil {
				return
			}
			out, _ := s.StdoutPipe()
			_, _ = s.StdinPipe()
			if err := s.Shell(); err != nil {
				return
			}
			// A console that draws is an open session; a refusal ends.
			buf := make([]byte, 4096)
			if n, err := out.Read(buf); err == nil && n > 0 && !bytes.Contains(buf[:n], []byte("too many")) && !bytes.Contains(buf[:n], []byte("too fast")) {
				opened.Add(1)
				go io.Copy(io.Discard, out) //nolint:errcheck // keep it open
			}
		}()
	}
	wg.Wait()
	start := time.Now()
	res, err := tg.run("", "manager", "whoami")
	took := time.Since(start)
	t.Logf("ATTACK one-key-sessions: technician holds %d of 40 console sessions; manager: err=%v exit=%d %q in %v",
		opened.Load(), err, res.code, strings.TrimSpace(res.stderr), took.Round(time.Millisecond))
	if err != nil || res.code != 0 {
		t.Fatalf("manager locked out by one technician key: %v %q", err, res.stderr)
	}
	if took > 2*time.Second {
		t.Errorf("manager took %v", took)
	}
	if n := opened.Load(); n > 8 {
		t.Errorf("one key holds %d sessions (cap 8)", n)
	}
}

// A 256 KiB command line is refused with little server CPU.
func TestAttackLongCommandLine(t *testing.T) {
	tg := newTarget(t, 0, map[string]string{"tech": "technician"})
	c, err := dialFrom("", tg.addr, clientConf(tg.keys["tech"]))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The largest exec request an SSH packet carries: 256 KiB minus the
	// packet's own framing.
	cmd := "whoami " + strings.Repeat("A", 256<<10-7-512)
	before := tg.cpu()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	s.Stderr = &errb
	done := make(chan error, 1)
	go func() { done <- s.Run(cmd) }()
	var runErr error
	select {
	case runErr = <-done:
	case <-time.After(60 * time.Second): // the old release spends minutes
		runErr = errors.New("no answer within 60 s")
	}
	s.Close()
	used := tg.cpu() - before
	t.Logf("ATTACK long-command: %d-byte command; server CPU %v; client got %v %q", len(cmd), used.Round(time.Millisecond), runErr, tailBytes(strings.TrimSpace(errb.String()), 80))
	var ee *gossh.ExitError
	if !errors.As(runErr, &ee) || ee.ExitStatus() != 2 || !strings.Contains(errb.String(), "longer than") {
		t.Errorf("long command not refused with a usage error: %v %q", runErr, tailBytes(errb.String(), 200))
	}
	if used >= 50*time.Millisecond {
		t.Errorf("refusing it cost %v of server CPU (want < 50 ms)", used)
	}
}

// One key opens sessions as fast as it can for 10 s (at most 1,000):
// the ledger grows by at most 20 entries.
func TestAttackSessionFloodLedger(t *testing.T) {
	tg := newTarget(t, 0, map[string]string{"tech": "technician"})
	// Calibrate: entries written by a start and a clean stop alone.
	base := tg.ledgerCount()
	tg.start()
	idle := tg.ledgerCount() - base
	tg.start()
	before := tg.ledgerCount()
	tg.start()

	c, err := dialFrom("", tg.addr, clientConf(tg.keys["tech"]))
	if err != nil {
		t.Fatal(err)
	}
	var tries, ran atomic.Int32
	deadline := time.Now().Add(10 * time.Second)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// 1,000 opens spread over the 10 s, as a steady flood.
			for i := 0; time.Now().Before(deadline) && tries.Add(1) <= 1000; i++ {
				if pace := time.Until(deadline.Add(-10*time.Second + time.Duration(i)*80*time.Millisecond)); pace > 0 {
					time.Sleep(pace)
				}
				res, err := runOn(c, "whoami")
				if err == nil && res.code == 0 {
					ran.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	c.Close()
	after := tg.ledgerCount() // stops serve: pending counts are written
	grew := after - before - idle
	t.Logf("ATTACK session-flood: %d session opens in 10 s, %d ran a command; ledger +%d entries (start/stop alone: %d)",
		min(int(tries.Load()), 1000), ran.Load(), grew, idle)
	if tries.Load() < 1000 && time.Now().Before(deadline.Add(time.Second)) {
		t.Logf("only %d opens fitted in 10 s", tries.Load())
	}
	if grew > 20 {
		t.Errorf("one key's session flood wrote %d ledger entries (want ≤ 20)", grew)
	}
}

// The payloads: an OSC title change with a screen clear, and a
// right-to-left override.
const (
	escPayload  = "\x1b]0;PWNED\x07\x1b[2J"
	bidiPayload = "evil\u202etxt.exe"
	// Invisible: tag characters spelling "PWNED" (ASCII smuggling), a
	// zero-width space and a Hangul filler that shows as blank.
	hiddenPayload = "ok\U000E0050\U000E0057\U000E004E\U000E0045\U000E0044cam\u200b1\u3164"
)

// carriesPayload: the payload's own bytes (the console draws with
// escapes of its own, so only the payload's sequences count there).
func carriesPayload(b []byte, console bool) bool {
	if bytes.Contains(b, []byte("\x1b]0;PWNED")) || bytes.Contains(b, []byte("PWNED\x07")) || bytes.ContainsRune(b, 0x202e) {
		return true
	}
	if bytes.ContainsRune(b, 0xE0050) || bytes.ContainsRune(b, 0x200b) || bytes.ContainsRune(b, 0x3164) {
		return true
	}
	return !console && (bytes.ContainsRune(b, 0x1b) || bytes.ContainsRune(b, 0x07))
}

// Escape and bidi payloads sent by a hostile key (forward destination,
// command name) and typed by an operator never reach the manager: not in
// the ledger's text, JSON or CSV, nor on the console; CSV cells cannot
// start a formula.
func TestAttackEscapesReachTheManager(t *testing.T) {
	tg := newTarget(t, 0, map[string]string{"manager": "manager", "tech": "technician",
		`=HYPERLINK("http://x","y")`: "operator"})
	c, err := dialFrom("", tg.addr, clientConf(tg.keys["tech"]))
	if err != nil {
		t.Fatal(err)
	}
	for _, dest := range []string{escPayload, bidiPayload, hiddenPayload} {
		if ch, err := c.Dial("tcp", net.JoinHostPort(dest, "80")); err == nil {
			ch.Close()
		}
	}
	for _, name := range []string{escPayload, bidiPayload, hiddenPayload} {
		_, _ = runOn(c, "'"+name+"'")
	}
	c.Close()
	// An operator typing the payloads into a form gets a clear refusal.
	res, err := tg.run("", `=HYPERLINK("http://x","y")`, "inquiry add --from '"+escPayload+"' --summary '"+bidiPayload+"'")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("operator typing the payloads: exit %d %q", res.code, strings.TrimSpace(res.stderr))

	found := map[string]bool{}
	for _, form := range []string{"ledger --limit 10000", "ledger --json --limit 10000", "ledger --csv"} {
		out := tg.must("manager", form)
		found[form] = carriesPayload([]byte(out), false)
		if form == "ledger --csv" {
			rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
			if err != nil {
				t.Fatalf("csv: %v", err)
			}
			for _, row := range rows {
				for _, cell := range row {
					if cell != "" && strings.ContainsRune("=+-@", rune(cell[0])) {
						found["csv formula"] = true
						t.Logf("formula cell: %q", cell)
					}
				}
			}
		}
		if form == "ledger --json --limit 10000" && !json.Valid([]byte(out)) {
			t.Errorf("ledger --json is not valid JSON")
		}
	}
	found["console"] = tg.consoleCarriesPayload("manager")
	t.Logf("ATTACK escapes: payload reached manager via text=%v json=%v csv=%v csv-formula=%v console=%v",
		found["ledger --limit 10000"], found["ledger --json --limit 10000"], found["ledger --csv"], found["csv formula"], found["console"])
	for k, v := range found {
		if v {
			t.Errorf("payload reached the manager via %s", k)
		}
	}
}

// consoleCarriesPayload opens the manager's console, goes to the ledger
// tab and reports whether a payload reached the terminal.
func (tg *target) consoleCarriesPayload(name string) bool {
	tg.t.Helper()
	c, err := dialFrom("", tg.addr, clientConf(tg.keys[name]))
	if err != nil {
		tg.t.Fatal(err)
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		tg.t.Fatal(err)
	}
	defer s.Close()
	if err := s.RequestPty("xterm-256color", 50, 200, gossh.TerminalModes{}); err != nil {
		tg.t.Fatal(err)
	}
	out, _ := s.StdoutPipe()
	in, _ := s.StdinPipe()
	if err := s.Shell(); err != nil {
		tg.t.Fatal(err)
	}
	var buf logBuf
	go io.Copy(&buf, out) //nolint:errcheck // until the session closes
	// Answer the terminal queries a console sends at start (background
	// colour, device attributes), as a real terminal does.
	_, _ = in.Write([]byte("\x1b]11;rgb:0000/0000/0000\x1b\\\x1b[?62;22c"))
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(buf.String(), "1") && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second)
	_, _ = in.Write([]byte("5")) // the ledger tab
	for !strings.Contains(buf.String(), "PWNED") && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	screen := buf.String()
	if !strings.Contains(screen, "PWNED") {
		tg.t.Logf("console ledger did not show the refused entries; screen tail %q", tailBytes(screen, 600))
	}
	return carriesPayload([]byte(screen), true)
}

func rsaSigner(t *testing.T, bits int) gossh.Signer {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gossh.NewSignerFromKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func dsaSigner(t *testing.T) gossh.Signer {
	t.Helper()
	var k dsa.PrivateKey
	if err := dsa.GenerateParameters(&k.Parameters, rand.Reader, dsa.L1024N160); err != nil {
		t.Fatal(err)
	}
	if err := dsa.GenerateKey(&k, rand.Reader); err != nil {
		t.Fatal(err)
	}
	s, err := gossh.NewSignerFromKey(&k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Weak keys and algorithms: DSA and RSA-1024 refused at enrolment and at
// login (a key an older release enrolled cannot log in), SHA-1 RSA
// signatures, SHA-1 key exchange and SHA-1 MACs refused.
func TestAttackWeakKeysAndAlgorithms(t *testing.T) {
	tg := newTarget(t, 0, map[string]string{"manager": "manager"})
	weak := map[string]gossh.Signer{"dsa": dsaSigner(t), "rsa1024": rsaSigner(t, 1024)}
	enrolled := map[string]bool{}
	for name, s := range weak {
		pub := filepath.Join(tg.dir, name+".pub")
		_ = os.WriteFile(pub, gossh.MarshalAuthorizedKey(s.PublicKey()), 0o600)
		tg.stop()
		out, err := exec.Command(tg.bin, "keys", "add", "--data", tg.data, "--role", "operator", "--name", name, pub).CombinedOutput()
		tg.start()
		enrolled[name] = err == nil
		t.Logf("enrol %s: err=%v %s", name, err, strings.TrimSpace(string(out)))
		if err == nil {
			t.Errorf("%s key enrolled", name)
		}
	}
	// The same keys as an older release would have enrolled them.
	tg.stop()
	for name, s := range weak {
		if !enrolled[name] {
			plantKey(t, tg.data, name, s.PublicKey())
		}
	}
	tg.start()
	logins := map[string]error{}
	for name, s := range weak {
		conf := clientConf(s)
		if name == "dsa" {
			conf.HostKeyAlgorithms = nil
		}
		c, err := dialFrom("", tg.addr, conf)
		if err == nil {
			_, err = runOn(c, "whoami")
			c.Close()
			if err == nil {
				logins[name] = nil
				continue
			}
		}
		logins[name] = err
	}
	// A strong key, but only SHA-1 offered: ssh-rsa signatures, SHA-1
	// kex, SHA-1 MAC.
	rsa3072 := rsaSigner(t, 3072)
	tg.stop()
	pub := filepath.Join(tg.dir, "rsa3072.pub")
	_ = os.WriteFile(pub, gossh.MarshalAuthorizedKey(rsa3072.PublicKey()), 0o600)
	if out, err := exec.Command(tg.bin, "keys", "add", "--data", tg.data, "--role", "operator", "--name", "rsa3072", pub).CombinedOutput(); err != nil {
		t.Fatalf("RSA-3072 refused: %s", out)
	}
	tg.start()
	sha1Sig, err := gossh.NewSignerWithAlgorithms(rsa3072.(gossh.AlgorithmSigner), []string{gossh.KeyAlgoRSA})
	if err != nil {
		t.Fatal(err)
	}
	try := func(s gossh.Signer, edit func(*gossh.ClientConfig)) error {
		conf := clientConf(s)
		edit(conf)
		c, err := dialFrom("", tg.addr, conf)
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = runOn(c, "whoami")
		return err
	}
	logins["ssh-rsa (SHA-1) signature"] = try(sha1Sig, func(*gossh.ClientConfig) {})
	logins["diffie-hellman-group14-sha1"] = try(rsa3072, func(c *gossh.ClientConfig) {
		c.KeyExchanges = []string{gossh.InsecureKeyExchangeDH14SHA1}
	})
	logins["hmac-sha1"] = try(rsa3072, func(c *gossh.ClientConfig) {
		c.MACs = []string{gossh.HMACSHA1}
		c.Ciphers = []string{gossh.CipherAES128CTR}
	})
	if err := try(rsa3072, func(*gossh.ClientConfig) {}); err != nil {
		t.Errorf("RSA-3072 with SHA-2 refused: %v", err)
	}
	var line []string
	for _, k := range []string{"dsa", "rsa1024", "ssh-rsa (SHA-1) signature", "diffie-hellman-group14-sha1", "hmac-sha1"} {
		line = append(line, fmt.Sprintf("%s login=%v", k, logins[k] == nil))
		if logins[k] == nil {
			t.Errorf("%s accepted at login", k)
		}
	}
	t.Logf("ATTACK weak-keys: enrolled dsa=%v rsa1024=%v; %s", enrolled["dsa"], enrolled["rsa1024"], strings.Join(line, ", "))
	if err := logins["rsa1024"]; err != nil && !strings.Contains(err.Error(), "unable to authenticate") {
		t.Logf("rsa1024 login error: %v", err)
	}
}

// An operator's requests place provisional holds; the manager's own hold
// must still be placed.
func TestAttackProvisionalHoldsBlockManager(t *testing.T) {
	tg := newTarget(t, 2, map[string]string{"manager": "manager", "op": "operator"})
	start := time.Now().UTC()
	time.Sleep(8 * time.Second) // some footage in the ring
	var ids []string
	for i := 0; i < 6; i++ {
		now := time.Now().UTC()
		res, err := tg.run("", "op", fmt.Sprintf("request new --agency A --address 'Chiba 1' --representative R --contact C --phone 000 "+
			"--purpose investigation --ground law --cameras cam1,cam2 --from %s --to %s",
			start.Add(-time.Minute).Format(time.RFC3339), now.Add(15*time.Second).Format(time.RFC3339)))
		if err != nil {
			t.Fatal(err)
		}
		if res.code == 0 {
			ids = append(ids, strings.TrimSpace(res.stdout))
		} else {
			t.Logf("request %d: exit %d %q", i+1, res.code, strings.TrimSpace(res.stderr))
		}
	}
	var holds []struct{ Kind string }
	if err := json.Unmarshal([]byte(tg.must("manager", "hold list --json")), &holds); err != nil {
		t.Fatal(err)
	}
	provisional := 0
	for _, h := range holds {
		if h.Kind == "provisional" {
			provisional++
		}
	}
	now := time.Now().UTC()
	res, err := tg.run("", "manager", fmt.Sprintf("hold add --camera cam1 --from %s --to %s --until %s --reason 'complaint under review'",
		start.Format(time.RFC3339), now.Add(10*time.Second).Format(time.RFC3339), now.Add(7*24*time.Hour).Format(time.RFC3339)))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ATTACK provisional-holds: operator registered %d requests placing %d provisional holds; manager's hold add: exit %d %q",
		len(ids), provisional, res.code, strings.TrimSpace(res.stderr))
	if res.code != 0 {
		t.Errorf("manager's hold blocked by provisional holds: %q", res.stderr)
	}
}

// plantKey writes an enrolled key record straight into the database, as
// an older release (without the algorithm policy) would have.
func plantKey(t *testing.T, data, name string, pk gossh.PublicKey) {
	t.Helper()
	db, err := bolt.Open(appliance.DBPath(data), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	k := core.Key{Fingerprint: gossh.FingerprintSHA256(pk), Name: name, Role: core.RoleOperator,
		PublicKey: strings.TrimSpace(string(gossh.MarshalAuthorizedKey(pk))), Type: pk.Type(),
		EnrolledAt: time.Now().UTC(), EnrolledBy: "older release"}
	v, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("keys")).Put([]byte(k.Fingerprint), v)
	}); err != nil {
		t.Fatal(err)
	}
}

// The smaller findings: a technician recording a camera removal, a search
// instructed to nobody (or to a technician), dates from 1900 to 9999, an
// export passphrase of one repeated letter. Each must be refused.
func TestAttackRolesAndValues(t *testing.T) {
	tg := newTarget(t, 1, map[string]string{"manager": "manager", "op": "operator", "tech": "technician"})
	now := time.Now().UTC()
	req := fmt.Sprintf("request new --agency A --address 'Chiba 1' --representative R --contact C --phone 000 "+
		"--purpose investigation --ground law --cameras cam1 --from %s --to %s",
		now.Add(-2*time.Hour).Format(time.RFC3339), now.Add(-time.Hour).Format(time.RFC3339))
	id := strings.TrimSpace(tg.must("op", req))
	tries := []struct{ name, who, cmd, stdin string }{
		{"technician records a camera removal", "tech", "maintenance add --kind camera-removal --camera cam1 --performer T --notes gone", ""},
		{"technician records a sign removal", "tech", "maintenance add --kind sign-removal --camera cam1 --performer T --notes gone", ""},
		{"search instructed to nobody", "manager", "request instruct " + id + " --operator 'Nobody At All'", ""},
		{"search instructed to a technician", "manager", "request instruct " + id + " --operator tech", ""},
		{"request received 1970", "op", req + " --received 1970-01-01T00:00:00Z", ""},
		{"request received 2099", "op", req + " --received 2099-01-01T00:00:00Z", ""},
		{"request over 0001–9999", "op", strings.Replace(strings.Replace(req, now.Add(-2*time.Hour).Format(time.RFC3339), "0001-01-02T00:00:00Z", 1),
			now.Add(-time.Hour).Format(time.RFC3339), "9999-01-01T00:00:00Z", 1), ""},
		{"maintenance dated 1900", "manager", "maintenance add --kind inspection --camera cam1 --performer T --date 1900-01-01T00:00:00Z", ""},
		{"export passphrase of one letter", "manager", "export-passphrase set", "aaaaaaaaaa\n"},
	}
	accepted := 0
	for _, c := range tries {
		res, err := tg.run("", c.who, c.cmd, c.stdin)
		if err != nil {
			t.Fatal(err)
		}
		if res.code == 0 {
			accepted++
			t.Errorf("%s: accepted", c.name)
		} else {
			t.Logf("%s: exit %d %q", c.name, res.code, tailBytes(strings.TrimSpace(res.stderr), 160))
		}
	}
	t.Logf("ATTACK roles-and-values: %d of %d accepted", accepted, len(tries))
}
