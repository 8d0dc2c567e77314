package appliance

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"golang.org/x/crypto/ssh"

	"mimamori/config"
	"mimamori/core"
	"mimamori/recorder/ring"
	"mimamori/simcam"
	"mimamori/tools/soak/synth"
)

const simcamChildEnv = "MIMAMORI_SIMCAM_CHILD"

func TestMain(m *testing.M) {
	if spec := os.Getenv(simcamChildEnv); spec != "" {
		f := strings.Split(spec, "|")
		n, _ := strconv.Atoi(f[1])
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
		defer stop()
		if err := simcam.Run(ctx, simcam.Options{Listen: f[0], Cameras: n, Codec: "h264", Bitrate: 4_000_000}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// screen collects what one console session draws, with escape sequences
// removed, so a test can wait for text to appear.
type screen struct {
	mu    sync.Mutex
	text  strings.Builder
	seen  chan struct{}
	reply io.Writer // answers the terminal queries a real terminal would
}

func (s *screen) Write(p []byte) (int, error) {
	// Answer as a real terminal would, should anything ask (the console
	// itself no longer asks for the background colour: sshd chooses the
	// palette, so a terminal that answers nothing still gets a console).
	if strings.Contains(string(p), "\x1b]11;?") {
		_, _ = io.WriteString(s.reply, "\x1b]11;rgb:0000/0000/0000\x1b\\")
	}
	if strings.Contains(string(p), "\x1b[c") {
		_, _ = io.WriteString(s.reply, "\x1b[?62;c")
	}
	if strings.Contains(string(p), "\x1b[6n") {
		_, _ = io.WriteString(s.reply, "\x1b[1;1R")
	}
	s.mu.Lock()
	s.text.WriteString(ansi.Strip(string(p)))
	s.mu.Unlock()
	select {
	case s.seen <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (s *screen) reset() {
	s.mu.Lock()
	s.text.Reset()
	s.mu.Unlock()
}

func (s *screen) has(want string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Contains(s.text.String(), want)
}

// waitFor returns when want has been drawn since the last reset.
func (s *screen) waitFor(want string, timeout time.Duration) bool {
	deadline := time.After(timeout)
	for !s.has(want) {
		select {
		case <-s.seen:
		case <-deadline:
			return false
		}
	}
	return true
}

// BenchmarkConsoleKeypress measures keypress-to-redraw over real SSH:
// 8 console sessions switch tabs while 16 simulated 4 Mbit/s cameras
// (served from a child process) are recorded by the same appliance.
// Reports p50/p99 latency from sending the key to the new tab's text
// arriving at the client. Run with -benchtime 1x.
func BenchmarkConsoleKeypress(b *testing.B) {
	const sessions, cameras, presses = 8, 16, 100
	rtsp := freeAddr(b)
	child := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	child.Env = append(os.Environ(), fmt.Sprintf("%s=%s|%d", simcamChildEnv, rtsp, cameras))
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = child.Process.Signal(syscall.SIGTERM); _ = child.Wait() }()
	time.Sleep(time.Second)

	cfg := config.Default()
	cfg.DataDir = b.TempDir()
	cfg.ExportDir = b.TempDir()
	cfg.SSH.Listen = "127.0.0.1:0"
	cfg.SSH.MaxSessions = 64
	cfg.Storage.Capacity = 2 << 30
	cfg.Lang = "en"
	cfg.Location, _ = time.LoadLocation("Asia/Tokyo")
	for i := 1; i <= cameras; i++ {
		cfg.Cameras = append(cfg.Cameras, config.Camera{ID: fmt.Sprintf("cam%d", i), Number: i, Name: fmt.Sprintf("cam%d", i),
			URL: fmt.Sprintf("rtsp://%s/cam%d", rtsp, i)})
	}
	log := slog.New(slog.DiscardHandler)
	app, err := Open(cfg, log)
	if err != nil {
		b.Fatal(err)
	}
	defer app.Close()
	ctx, cancel := context.WithCancel(context.Background())
	run, err := app.Start(ctx, log)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { cancel(); run.Stop(log) }()

	var signers []ssh.Signer
	for i := range sessions {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		signer, _ := ssh.NewSignerFromKey(priv)
		line := string(ssh.MarshalAuthorizedKey(signer.PublicKey()))
		if _, err := app.Store.EnrollKey(core.SystemActor("bench"), fmt.Sprintf("operator %d", i), core.RoleOperator, line); err != nil {
			b.Fatal(err)
		}
		signers = append(signers, signer)
	}
	time.Sleep(3 * time.Second) // cameras connect

	// Connect one after the other: the appliance lets one address have
	// only a few connections mid-handshake at once (sshd MaxUnauthPerAddr).
	var clients []*ssh.Client
	for i := range sessions {
		c, err := dialConsole(run.SSHAddr().String(), signers[i])
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		clients = append(clients, c)
	}
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	errs := make(chan error, sessions)
	b.ResetTimer()
	for i := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := pressKeys(clients[i], presses)
			if err != nil {
				errs <- err
				return
			}
			mu.Lock()
			lat = append(lat, d...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.5), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(pct(1), "max-ms")
	b.ReportMetric(float64(len(lat)), "keypresses")
}

func dialConsole(addr string, signer ssh.Signer) (*ssh.Client, error) {
	return ssh.Dial("tcp", addr, &ssh.ClientConfig{User: "bench", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second})
}

// pressKeys opens a console at 80x24 and alternates between the Cameras
// and Storage tabs, timing each switch until the new tab is drawn.
func pressKeys(client *ssh.Client, n int) ([]time.Duration, error) {
	sess, err := client.NewSession()
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	if err := sess.RequestPty("xterm-256color", 24, 80, ssh.TerminalModes{}); err != nil {
		return nil, err
	}
	in, err := sess.StdinPipe()
	if err != nil {
		return nil, err
	}
	scr := &screen{seen: make(chan struct{}, 1), reply: in}
	sess.Stdout = scr
	if err := sess.Shell(); err != nil {
		return nil, err
	}
	if !scr.waitFor("Cameras", 30*time.Second) {
		return nil, fmt.Errorf("console did not draw within 30 s")
	}
	time.Sleep(500 * time.Millisecond)
	tabs := []struct{ key, marker string }{{"3", "[3 Storage]"}, {"1", "[1 Cameras]"}}
	var out []time.Duration
	for i := range n {
		tab := tabs[i%2]
		scr.reset()
		start := time.Now()
		if _, err := io.WriteString(in, tab.key); err != nil {
			return nil, err
		}
		if !scr.waitFor(tab.marker, 5*time.Second) {
			return nil, fmt.Errorf("tab %s not drawn within 5 s", tab.marker)
		}
		out = append(out, time.Since(start))
		time.Sleep(20 * time.Millisecond)
	}
	_, _ = io.WriteString(in, "q")
	return out, nil
}

// BenchmarkConsoleKeypressSoak measures keypress-to-redraw for a manager
// console on the data directory a soak left behind (MIMAMORI_SOAK_DIR,
// written by `go run ./tools/soak -keep`; `just soak` runs both): the real
// appliance opened on the year-old ledger, index and ring, recording
// going on at the real fragment rate (the soak's scaled fragments written
// through the running recorder's ring, as the soak wrote them), two
// operator consoles switching tabs beside it. The manager pages the
// ledger tab (people / all / machine records, an older page and back),
// then the requests, storage and cameras tabs. Reports p50/p99/max of
// the manager's keypresses (and of everybody's). Run with -benchtime 1x.
func BenchmarkConsoleKeypressSoak(b *testing.B) {
	dir := os.Getenv("MIMAMORI_SOAK_DIR")
	if dir == "" {
		b.Skip("MIMAMORI_SOAK_DIR is not set: run `go run ./tools/soak -keep -dir DIR` (or `just soak`) first")
	}
	g, err := synth.LoadGeometry(dir)
	if err != nil {
		b.Fatal(err)
	}
	const rounds = 25
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.ExportDir = filepath.Join(dir, "exports")
	cfg.ApplianceID = g.ApplianceID
	cfg.Policy = g.Policy
	cfg.Retention.Days = g.RetentionDays
	cfg.SSH.Listen = "127.0.0.1:0"
	cfg.Storage.Capacity, cfg.Storage.BlockSize, cfg.Storage.HoldShare = g.Capacity, g.BlockSize, g.HoldShare
	cfg.Lang = "en"
	cfg.Location, _ = time.LoadLocation("Asia/Tokyo")
	dead := freeAddr(b) // nobody listens: the configured cameras' own streams never connect
	for i := 1; i <= g.Cameras; i++ {
		cfg.Cameras = append(cfg.Cameras, config.Camera{ID: fmt.Sprintf("cam%d", i), Number: i, Name: fmt.Sprintf("Camera %d", i),
			URL: fmt.Sprintf("rtsp://%s/cam%d", dead, i)})
	}
	log := slog.New(slog.DiscardHandler)
	app, err := Open(cfg, log)
	if err != nil {
		b.Fatal(err)
	}
	defer app.Close()
	ctx, cancel := context.WithCancel(context.Background())
	run, err := app.Start(ctx, log)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { cancel(); run.Stop(log) }()
	rg := run.Recorder().Ring()
	init, err := synth.Init()
	if err != nil {
		b.Fatal(err)
	}
	payload, err := synth.Fragment(g.FragmentBytes)
	if err != nil {
		b.Fatal(err)
	}
	wctx, stopWriting := context.WithCancel(ctx)
	written := make(chan error, 1)
	fragSecs := max(g.FragmentSeconds, 1)
	go func() { written <- recordSynthetic(wctx, rg, g.Cameras, fragSecs, init, payload) }()
	defer func() {
		stopWriting()
		if err := <-written; err != nil {
			b.Error(err)
		}
	}()

	load := func(name string) ssh.Signer {
		raw, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			b.Fatal(err)
		}
		s, err := ssh.ParsePrivateKey(raw)
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	mgrKey := load(g.ManagerKey)
	mgr, err := app.Store.LookupKey(ssh.FingerprintSHA256(mgrKey.PublicKey()))
	if err != nil {
		b.Fatal(err)
	}
	manager := []keyStep{{"5", "[5 Ledger]"}, {"m", "All entries"}, {"m", "Machine records"}, {"m", "People's acts"}}
	if p, err := app.Store.LedgerPage(mgr.Actor(), core.LedgerQuery{Limit: 200}); err == nil && p.Next != 0 {
		manager = append(manager, keyStep{"]", "back"}, keyStep{"[", "entries in all"}) // an older page exists
	}
	manager = append(manager, keyStep{"4", "[4 Requests]"}, keyStep{"3", "[3 Storage]"}, keyStep{"1", "[1 Cameras]"})
	operator := []keyStep{{"3", "[3 Storage]"}, {"1", "[1 Cameras]"}}
	var mu sync.Mutex
	lat := map[string][]time.Duration{}
	byKey := map[string][]time.Duration{} // "manager 5": that key's presses
	var wg sync.WaitGroup
	errs := make(chan error, 1+len(g.OperatorKeys))
	b.ResetTimer()
	start := func(who string, s ssh.Signer, steps []keyStep) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := pressSteps(run.SSHAddr().String(), s, steps, rounds*len(manager))
			if err != nil {
				errs <- fmt.Errorf("%s: %w", who, err)
				return
			}
			mu.Lock()
			lat[who] = append(lat[who], d...)
			for i, x := range d {
				k := who + " " + steps[i%len(steps)].key
				byKey[k] = append(byKey[k], x)
			}
			mu.Unlock()
		}()
	}
	start("manager", mgrKey, manager)
	for i, k := range g.OperatorKeys {
		start(fmt.Sprintf("operator%d", i+1), load(k), operator)
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	var all []time.Duration
	for _, d := range lat {
		all = append(all, d...)
	}
	report := func(ds []time.Duration, prefix string) {
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		pct := func(p float64) float64 { return float64(ds[int(p*float64(len(ds)-1))].Microseconds()) / 1000 }
		b.ReportMetric(pct(0.5), prefix+"p50-ms")
		b.ReportMetric(pct(0.99), prefix+"p99-ms")
		b.ReportMetric(pct(1), prefix+"max-ms")
	}
	report(lat["manager"], "manager-")
	var names []string
	for k := range byKey {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		ds := byKey[k]
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		b.Logf("%-12s n=%3d p50 %6.1f ms  p99 %6.1f ms  max %6.1f ms", k, len(ds), ms(ds[len(ds)/2]), ms(ds[(len(ds)-1)*99/100]), ms(ds[len(ds)-1]))
	}
	report(all, "all-")
	b.ReportMetric(float64(len(lat["manager"])), "manager-keypresses")
	b.ReportMetric(float64(app.Store.LedgerHead()), "ledger-entries")
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// recordSynthetic appends one fragment of secs seconds every secs
// seconds for each camera to the ring until ctx is done, as the soak did
// (and as serve's ingest would).
func recordSynthetic(ctx context.Context, rg *ring.Ring, cameras, secs int, init, payload []byte) error {
	ids := make([]uint32, cameras)
	for i := range cameras {
		id, err := rg.AppendInit(fmt.Sprintf("cam%d", i+1), init)
		if err != nil {
			return err
		}
		ids[i] = id
	}
	d := time.Duration(secs) * time.Second
	t := time.NewTicker(d)
	defer t.Stop()
	next := time.Now().UTC().Add(-d)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		for i := range cameras {
			if err := rg.AppendFragment(ring.Fragment{Camera: fmt.Sprintf("cam%d", i+1), Start: next, Duration: d,
				Keyframe: true, InitID: ids[i], Payload: payload}); err != nil {
				return err
			}
		}
		next = next.Add(d)
	}
}

// keyStep is a key and the text its redraw must show.
type keyStep struct{ key, marker string }

// pressSteps opens a console at 120x40 and presses steps over and over
// (n keys in all), timing each key until its marker is drawn.
func pressSteps(addr string, signer ssh.Signer, steps []keyStep, n int) ([]time.Duration, error) {
	client, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{User: "bench", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second})
	if err != nil {
		return nil, err
	}
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	if err := sess.RequestPty("xterm-256color", 40, 120, ssh.TerminalModes{}); err != nil {
		return nil, err
	}
	in, err := sess.StdinPipe()
	if err != nil {
		return nil, err
	}
	scr := &screen{seen: make(chan struct{}, 1), reply: in}
	sess.Stdout = scr
	if err := sess.Shell(); err != nil {
		return nil, err
	}
	if !scr.waitFor("Cameras", 30*time.Second) {
		return nil, fmt.Errorf("console did not draw within 30 s")
	}
	time.Sleep(500 * time.Millisecond)
	var out []time.Duration
	for i := range n {
		st := steps[i%len(steps)]
		scr.reset()
		start := time.Now()
		if _, err := io.WriteString(in, st.key); err != nil {
			return nil, err
		}
		if !scr.waitFor(st.marker, 10*time.Second) {
			return nil, fmt.Errorf("key %q: %q not drawn within 10 s", st.key, st.marker)
		}
		out = append(out, time.Since(start))
		time.Sleep(150 * time.Millisecond) // a person's pace; the page's data arrives meanwhile
	}
	_, _ = io.WriteString(in, "q")
	return out, nil
}
