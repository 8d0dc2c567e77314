package e2e

// Attacks on the SSH channel layer by an enrolled key (any role): channels
// opened without a command, input nobody reads sent in one-byte packets,
// environment requests, and terminal sizes. Each asserts on the real
// `mimamori serve` process's memory (VmRSS) and that a manager still logs
// in. MIMAMORI_ATTACK_BIN runs them against another build; a server that
// grows past rssKill is killed at once (these attacks can take the whole
// machine's memory).

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// rssKill: a server this large is losing to the attack; stop it before
// it takes the machine.
const rssKill = 1 << 30

// rss is the server's resident memory in bytes.
func (tg *target) rss() int64 {
	tg.t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", tg.cmd.Process.Pid))
	if err != nil {
		tg.t.Skipf("no /proc status for the server: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// watchRSS samples the server's RSS until stop is closed and returns the
// peak; past rssKill it kills the server.
func (tg *target) watchRSS(stop <-chan struct{}) func() int64 {
	var mu sync.Mutex
	var peak int64
	done := make(chan struct{})
	sample := func() {
		r := tg.rss()
		mu.Lock()
		peak = max(peak, r)
		mu.Unlock()
		if r > rssKill {
			_ = tg.cmd.Process.Kill()
		}
	}
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				sample()
				return
			case <-tg.exited:
				return
			case <-time.After(20 * time.Millisecond):
				sample()
			}
		}
	}()
	return func() int64 {
		<-done
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

// managerLogsIn asserts the manager still gets a session within 2 s.
func (tg *target) managerLogsIn(what string) {
	tg.t.Helper()
	select {
	case <-tg.exited:
		tg.t.Fatalf("%s: the server died", what)
	default:
	}
	start := time.Now()
	res, err := tg.run("", "manager", "whoami")
	if err != nil || res.code != 0 {
		tg.t.Fatalf("%s: manager locked out: %v %q", what, err, res.stderr)
	}
	if took := time.Since(start); took > 2*time.Second {
		tg.t.Errorf("%s: manager took %v", what, took)
	}
}

const mib = 1 << 20

// One technician connection opens 400 session channels and never sends a
// command: before, every one was accepted (a goroutine and up to 2 MiB of
// buffered input each).
func TestAttackChannelsWithoutCommand(t *testing.T) {
	tg := newTarget(t, 0, map[string]string{"manager": "manager", "tech": "technician"})
	c, err := dialFrom("", tg.addr, clientConf(tg.keys["tech"]))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	opened := 0
	var refusal error
	for i := 0; i < 400; i++ {
		ch, reqs, err := c.OpenChannel("session", nil)
		if err != nil {
			refusal = err
			continue
		}
		go gossh.DiscardRequests(reqs)
		defer ch.Close()
		opened++
	}
	// A second connection of the same key gets only what is left of the
	// key's share.
	c2, err := dialFrom("", tg.addr, clientConf(tg.keys["tech"]))
	opened2 := 0
	if err == nil {
		defer c2.Close()
		for i := 0; i < 100; i++ {
			if ch, reqs, err := c2.OpenChannel("session", nil); err == nil {
				go gossh.DiscardRequests(reqs)
				defer ch.Close()
				opened2++
			}
		}
	}
	t.Logf("ATTACK channels-without-command: technician opened %d of 400 session channels on one connection (refusal: %v), %d more on a second", opened, refusal, opened2)
	if opened > 10 {
		t.Errorf("one connection holds %d channels (cap 10)", opened)
	}
	if opened+opened2 > 16 {
		t.Errorf("one key holds %d channels (cap 16)", opened+opened2)
	}
	tg.managerLogsIn("channels without command")
}

// A technician sends input nobody reads (no command yet) in one-byte
// packets on every channel it may open: before, each channel buffered
// its whole 2 MiB window as 2 million separate packets (~100 MiB).
func TestAttackUnreadInputInTinyPackets(t *testing.T) {
	tg := newTarget(t, 0, map[string]string{"manager": "manager", "tech": "technician"})
	c, err := dialFrom("", tg.addr, clientConf(tg.keys["tech"]))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	base := tg.rss()
	stop := make(chan struct{})
	peak := tg.watchRSS(stop)
	var chs []gossh.Channel
	for i := 0; i < 4; i++ {
		ch, reqs, err := c.OpenChannel("session", nil)
		if err != nil {
			break
		}
		go gossh.DiscardRequests(reqs)
		chs = append(chs, ch)
	}
	var sent [4]int
	var wg sync.WaitGroup
	one := []byte{'x'}
	deadline := time.Now().Add(20 * time.Second)
	for i, ch := range chs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for sent[i] < 2*mib && time.Now().Before(deadline) {
				if _, err := ch.Write(one); err != nil {
					return
				}
				if sent[i]++; i%2 == 1 && sent[i]%4096 == 0 {
					// stderr (extended data) too: nobody reads that either
					if _, err := ch.Stderr().Write(one); err != nil {
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	time.Sleep(200 * time.Millisecond) // let the server catch up with what is in flight
	close(stop)
	grew := peak() - base
	t.Logf("ATTACK unread-input: %d channels, bytes sent %v; server RSS %d MiB -> peak +%d MiB",
		len(chs), sent[:len(chs)], base/mib, grew/mib)
	if grew > 64*mib {
		t.Errorf("server grew by %d MiB on unread input of %d channels", grew/mib, len(chs))
	}
	tg.managerLogsIn("unread input")
}

// Environment requests before the command: before, each was kept
// (up to 256 KiB each, without bound).
func TestAttackEnvironmentFlood(t *testing.T) {
	tg := newTarget(t, 0, map[string]string{"manager": "manager", "tech": "technician"})
	c, err := dialFrom("", tg.addr, clientConf(tg.keys["tech"]))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	base := tg.rss()
	stop := make(chan struct{})
	peak := tg.watchRSS(stop)
	v := strings.Repeat("A", 200<<10)
	accepted := 0
	for i := 0; i < 1000; i++ {
		if err := s.Setenv(fmt.Sprintf("K%d", i), v); err == nil {
			accepted++
		}
	}
	// What ssh sends by default (SendEnv LANG LC_*) is still accepted.
	langOK := s.Setenv("LANG", "ja_JP.UTF-8") == nil
	close(stop)
	grew := peak() - base
	t.Logf("ATTACK env-flood: %d of 1000 environment requests of 200 KiB accepted; server RSS +%d MiB; LANG accepted: %v",
		accepted, grew/mib, langOK)
	if accepted > 0 {
		t.Errorf("%d oversized environment requests accepted", accepted)
	}
	if grew > 64*mib {
		t.Errorf("server grew by %d MiB", grew/mib)
	}
	if !langOK {
		t.Error("LANG refused")
	}
	tg.managerLogsIn("env flood")
}

// A console asked for with a terminal of 100,000 × 100,000 and then
// resized a thousand times: before, the console drew screens of that size
// (the server took gigabytes within seconds).
func TestAttackHugeTerminal(t *testing.T) {
	tg := newTarget(t, 1, map[string]string{"manager": "manager", "tech": "technician"})
	c, err := dialFrom("", tg.addr, clientConf(tg.keys["tech"]))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	base := tg.rss()
	stop := make(chan struct{})
	peak := tg.watchRSS(stop)
	const huge = 100000
	if err := s.RequestPty("xterm", huge, huge, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	out, _ := s.StdoutPipe()
	// No stdin: the console's question about the terminal's colours is
	// answered by the end of input at once.
	if err := s.Shell(); err != nil {
		t.Fatal(err)
	}
	var drawn countingWriter
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := out.Read(buf)
			drawn.add(n)
			if err != nil {
				return
			}
		}
	}()
	for start := time.Now(); drawn.n() < 100 && time.Since(start) < 15*time.Second; {
		time.Sleep(50 * time.Millisecond)
	}
	select {
	case <-tg.exited:
		t.Fatalf("ATTACK huge-terminal: pty %d×%d: the server died (peak RSS %d MiB)", huge, huge, peak()/mib)
	default:
	}
	cpu0 := tg.cpu()
	for i := 0; i < 1000; i++ {
		if err := s.WindowChange(huge-i%7, huge-i%5); err != nil {
			break
		}
	}
	time.Sleep(3 * time.Second)
	close(stop)
	grew := peak() - base
	cpu := tg.cpu() - cpu0
	t.Logf("ATTACK huge-terminal: pty %d×%d + 1000 resizes; server RSS +%d MiB, %v CPU in 3 s, %d bytes drawn",
		huge, huge, grew/mib, cpu.Round(time.Millisecond), drawn.n())
	if grew > 128*mib {
		t.Errorf("server grew by %d MiB for one console", grew/mib)
	}
	if cpu > 2*time.Second {
		t.Errorf("1000 resizes cost %v of server CPU", cpu)
	}
	tg.managerLogsIn("huge terminal")
}

type countingWriter struct {
	mu sync.Mutex
	c  int
}

func (w *countingWriter) add(n int) { w.mu.Lock(); w.c += n; w.mu.Unlock() }
func (w *countingWriter) n() int    { w.mu.Lock(); defer w.mu.Unlock(); return w.c }

// A technician's console is given a megabyte of letters without a break.
// Before, the console's input parser kept and re-parsed the whole run at
// every read: a core busy for as long as the session lasted.
func TestAttackConsoleLetterFlood(t *testing.T) {
	tg := newTarget(t, 0, map[string]string{"manager": "manager", "tech": "technician"})
	c, err := dialFrom("", tg.addr, clientConf(tg.keys["tech"]))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.RequestPty("xterm", 24, 80, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	out, _ := s.StdoutPipe()
	in, _ := s.StdinPipe()
	if err := s.Shell(); err != nil {
		t.Fatal(err)
	}
	var drawn countingWriter
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := out.Read(buf)
			drawn.add(n)
			if err != nil {
				return
			}
		}
	}()
	// Answer the terminal queries as a terminal does, wait for a screen.
	_, _ = in.Write([]byte("\x1b]11;rgb:0000/0000/0000\x1b\\\x1b[?62;22c"))
	for start := time.Now(); drawn.n() < 100 && time.Since(start) < 15*time.Second; {
		time.Sleep(50 * time.Millisecond)
	}
	cpu0 := tg.cpu()
	if _, err := in.Write([]byte(strings.Repeat("a", mib))); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Second)
	cpu := tg.cpu() - cpu0
	t.Logf("ATTACK console-letters: 1 MiB of letters into a console; server CPU %v in the next 5 s", cpu.Round(time.Millisecond))
	if cpu > time.Second {
		t.Errorf("the console burnt %v of CPU in 5 s on a megabyte of letters", cpu)
	}
	tg.managerLogsIn("console letters")
}
