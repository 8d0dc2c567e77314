package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BenchmarkServe measures the process people run: it builds mimamori,
// starts `mimamori simcam` (N cameras at 4 Mbit/s) and `mimamori serve`
// with a config recording them, each in its own process, and reads the
// serve process's CPU time, RSS and disk writes from /proc while it
// records for MIMAMORI_BENCH_SECONDS (default 60). N is
// MIMAMORI_BENCH_CAMERAS (default 64; a comma list runs several). Run:
//
//	go test -run '^$' -bench BenchmarkServe -benchtime 1x -timeout 30m .
//
// Metrics: cpu-ms/stream-min (serve's user+system CPU per camera-minute
// recorded), %core, MiB-RSS-peak (VmHWM: the kernel's peak over the whole
// life, start-up included), MiB-RSS-max (largest sample while measuring),
// disk-write/stream (bytes serve wrote to disk ÷ bytes the cameras sent).
func BenchmarkServe(b *testing.B) {
	secs := 60
	if v, err := strconv.Atoi(os.Getenv("MIMAMORI_BENCH_SECONDS")); err == nil && v > 0 {
		secs = v
	}
	counts := []int{64}
	if v := os.Getenv("MIMAMORI_BENCH_CAMERAS"); v != "" {
		counts = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				b.Fatalf("MIMAMORI_BENCH_CAMERAS=%q", v)
			}
			counts = append(counts, n)
		}
	}
	bin := filepath.Join(b.TempDir(), "mimamori")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	for _, n := range counts {
		b.Run(fmt.Sprintf("cameras=%d", n), func(b *testing.B) {
			for range b.N {
				benchServe(b, bin, n, time.Duration(secs)*time.Second)
			}
		})
	}
}

const benchBitrate = 4_000_000

func benchServe(b *testing.B, bin string, n int, d time.Duration) {
	dir := b.TempDir()
	urls := startBenchCameras(b, bin, n)

	var cfg strings.Builder
	fmt.Fprintf(&cfg, "data_dir: %s\nssh:\n  listen: \"127.0.0.1:0\"\n  playback_port: 0\n", filepath.Join(dir, "data"))
	// About 48 s of footage (6 blocks a camera): the ring wraps during a
	// 60 s run, as an appliance's always does.
	fmt.Fprintf(&cfg, "storage:\n  capacity: %dMiB\ncameras:\n", n*24)
	for i, u := range urls {
		fmt.Fprintf(&cfg, "  - id: cam%d\n    url: %s\n", i+1, u)
	}
	cfgPath := filepath.Join(dir, "mimamori.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o600); err != nil {
		b.Fatal(err)
	}

	serve := exec.Command(bin, "serve", "--config", cfgPath)
	logs, err := serve.StderrPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := serve.Start(); err != nil {
		b.Fatal(err)
	}
	defer stopChild(serve)
	// Every camera recording: one camera-up event each in the log.
	up := make(chan struct{})
	var tail lastLines
	go func() {
		seen := map[string]bool{}
		sc := bufio.NewScanner(logs)
		for sc.Scan() {
			line := sc.Text()
			tail.add(line)
			if strings.Contains(line, "kind=camera-up") {
				if f := strings.Fields(line); len(f) > 0 {
					for _, kv := range f {
						if c, ok := strings.CutPrefix(kv, "camera="); ok && !seen[c] {
							seen[c] = true
							if len(seen) == n {
								close(up)
							}
						}
					}
				}
			}
		}
	}()
	select {
	case <-up:
	case <-time.After(60 * time.Second):
		b.Fatalf("not every camera recording after 60 s; serve log tail:\n%s", tail.String())
	}

	measureRecorder(b, serve, n, d, &tail)
}

// startBenchCameras starts `mimamori simcam` with n cameras at
// benchBitrate in its own process (stopped when b ends) and returns their
// URLs.
func startBenchCameras(b *testing.B, bin string, n int) []string {
	cams := exec.Command(bin, "simcam", "--listen", "127.0.0.1:0", "--cameras", strconv.Itoa(n),
		"--bitrate", strconv.Itoa(benchBitrate))
	camOut, err := cams.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cams.Stderr = io.Discard
	if err := cams.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stopChild(cams) })
	var urls []string
	sc := bufio.NewScanner(camOut)
	for len(urls) < n && sc.Scan() {
		urls = append(urls, strings.TrimSpace(sc.Text()))
	}
	if len(urls) != n {
		b.Fatalf("simcam printed %d of %d URLs", len(urls), n)
	}
	go func() { _, _ = io.Copy(io.Discard, camOut) }()
	return urls
}

// measureRecorder samples a recording process (already recording all n
// cameras) for d and reports its CPU, memory and disk writes.
func measureRecorder(b *testing.B, proc *exec.Cmd, n int, d time.Duration, tail *lastLines) {
	pid := proc.Process.Pid
	cpu0, io0, wall0 := procCPU(pid), procWriteBytes(pid), time.Now()
	var maxRSS, maxAnon, maxFile int64
	for time.Since(wall0) < d {
		time.Sleep(250 * time.Millisecond)
		maxRSS = max(maxRSS, procStatusKB(pid, "VmRSS:"))
		maxAnon = max(maxAnon, procStatusKB(pid, "RssAnon:"))
		maxFile = max(maxFile, procStatusKB(pid, "RssFile:"))
	}
	cpu, written, wall := procCPU(pid)-cpu0, procWriteBytes(pid)-io0, time.Since(wall0)
	hwm := procStatusKB(pid, "VmHWM:")
	if proc.ProcessState != nil || procStatusKB(pid, "VmRSS:") == 0 {
		b.Fatalf("%s died; log tail:\n%s", filepath.Base(proc.Path), tail.String())
	}

	streamMinutes := float64(n) * wall.Minutes()
	streamBytes := float64(n) * benchBitrate / 8 * wall.Seconds()
	b.ReportMetric(float64(cpu.Milliseconds())/streamMinutes, "cpu-ms/stream-min")
	b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "%core")
	b.ReportMetric(float64(hwm)/1024, "MiB-RSS-peak")
	b.ReportMetric(float64(maxRSS)/1024, "MiB-RSS-max")
	// Anonymous memory (heap, stacks) and file pages (binary, mmapped
	// bbolt files) apart, for memory work.
	b.ReportMetric(float64(maxAnon)/1024, "MiB-RssAnon-max")
	b.ReportMetric(float64(maxFile)/1024, "MiB-RssFile-max")
	b.ReportMetric(float64(written)/streamBytes, "disk-write/stream")
}

// BenchmarkMediaMTX records the same simulated cameras with MediaMTX, side
// by side with BenchmarkServe (same simcam, bitrate, duration and
// metrics): MediaMTX pulls each stream over RTSP/TCP and records fMP4 with
// 1 s parts, its closest equivalent of our ring. It needs a MediaMTX
// binary, which this repository does not build or ship:
//
//	MIMAMORI_BENCH_MEDIAMTX=/path/to/mediamtx go test -run '^$' -bench 'BenchmarkServe|BenchmarkMediaMTX' -benchtime 1x -timeout 60m .
func BenchmarkMediaMTX(b *testing.B) {
	mtx := os.Getenv("MIMAMORI_BENCH_MEDIAMTX")
	if mtx == "" {
		b.Skip("MIMAMORI_BENCH_MEDIAMTX is not set (path to a mediamtx binary)")
	}
	secs := 60
	if v, err := strconv.Atoi(os.Getenv("MIMAMORI_BENCH_SECONDS")); err == nil && v > 0 {
		secs = v
	}
	n := 64
	if v, err := strconv.Atoi(os.Getenv("MIMAMORI_BENCH_CAMERAS")); err == nil && v > 0 {
		n = v
	}
	bin := filepath.Join(b.TempDir(), "mimamori")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	b.Run(fmt.Sprintf("cameras=%d", n), func(b *testing.B) {
		for range b.N {
			benchMediaMTX(b, mtx, bin, n, time.Duration(secs)*time.Second)
		}
	})
}

func benchMediaMTX(b *testing.B, mtx, bin string, n int, d time.Duration) {
	dir := b.TempDir()
	urls := startBenchCameras(b, bin, n)
	var cfg strings.Builder
	cfg.WriteString("logLevel: info\nrtsp: no\nrtmp: no\nhls: no\nwebrtc: no\nsrt: no\napi: no\nmetrics: no\npprof: no\nplayback: no\n")
	fmt.Fprintf(&cfg, "pathDefaults:\n  record: yes\n  recordPath: %s/%%path/%%Y-%%m-%%d_%%H-%%M-%%S-%%f\n", dir)
	cfg.WriteString("  recordFormat: fmp4\n  recordPartDuration: 1s\n  recordSegmentDuration: 1h\n  recordDeleteAfter: 1d\n  rtspTransport: tcp\npaths:\n")
	for i, u := range urls {
		fmt.Fprintf(&cfg, "  cam%d:\n    source: %s\n", i+1, u)
	}
	cfgPath := filepath.Join(dir, "mediamtx.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	proc := exec.Command(mtx, cfgPath)
	logs, err := proc.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	proc.Stderr = proc.Stdout
	if err := proc.Start(); err != nil {
		b.Fatal(err)
	}
	defer stopChild(proc)
	// Every path's source ready and its recording started.
	up := make(chan struct{})
	var tail lastLines
	go func() {
		seen := map[string]bool{}
		sc := bufio.NewScanner(logs)
		for sc.Scan() {
			line := sc.Text()
			tail.add(line)
			if strings.Contains(line, "recording") || strings.Contains(line, "ready:") {
				if i := strings.Index(line, "[path "); i >= 0 {
					p := line[i+6:]
					if j := strings.IndexByte(p, ']'); j > 0 && !seen[p[:j]] && strings.Contains(line, "ready:") {
						seen[p[:j]] = true
						if len(seen) == n {
							close(up)
						}
					}
				}
			}
		}
	}()
	select {
	case <-up:
	case <-time.After(60 * time.Second):
		b.Fatalf("not every MediaMTX path ready after 60 s; log tail:\n%s", tail.String())
	}
	measureRecorder(b, proc, n, d, &tail)
}

// stopChild ends a child with SIGTERM and waits (SIGKILL after 15 s).
func stopChild(c *exec.Cmd) {
	_ = c.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = c.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = c.Process.Kill()
		<-done
	}
}

// procCPU is a process's user+system CPU time (/proc/PID/stat, in clock
// ticks of 10 ms on Linux).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may contain spaces).
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// procWriteBytes is what a process caused to be written to storage.
func procWriteBytes(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "write_bytes: "); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

// procStatusKB reads one kB field of /proc/PID/status.
func procStatusKB(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// lastLines keeps the end of a log for failure messages.
type lastLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *lastLines) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) == 40 {
		l.lines = l.lines[1:]
	}
	l.lines = append(l.lines, s)
}

func (l *lastLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}
