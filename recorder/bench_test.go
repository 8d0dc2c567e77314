package recorder

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"mimamori/simcam"
)

// The simcam child serves cameras from a separate process so the
// benchmark's CPU and RSS are the recorder's alone.
const simcamChildEnv = "MIMAMORI_SIMCAM_CHILD"

// runSimcamChild: spec is "ADDR|CAMERAS|BITRATE".
func runSimcamChild(spec string) int {
	f := strings.Split(spec, "|")
	n, _ := strconv.Atoi(f[1])
	br, _ := strconv.ParseInt(f[2], 10, 64)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := simcam.Run(ctx, simcam.Options{Listen: f[0], Cameras: n, Codec: "h264", Bitrate: br}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func rssBytes() int64 { return procStatus("VmRSS:") }

// procStatus reads one kB field of /proc/self/status in bytes (RssAnon:
// heap and stacks; RssFile: file-backed pages such as the bbolt mmap).
func procStatus(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// BenchmarkRecorder records N simulated 4 Mbit/s cameras for
// MIMAMORI_BENCH_SECONDS (default 60) and reports CPU per stream-minute,
// peak RSS, MB/s written and dropped frames. Run with -benchtime 1x.
func BenchmarkRecorder(b *testing.B) {
	secs := 60
	if v, err := strconv.Atoi(os.Getenv("MIMAMORI_BENCH_SECONDS")); err == nil && v > 0 {
		secs = v
	}
	for _, n := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("cameras=%d", n), func(b *testing.B) {
			for range b.N {
				benchRecord(b, n, time.Duration(secs)*time.Second)
			}
		})
	}
}

func benchRecord(b *testing.B, n int, d time.Duration) {
	addr := freeAddr(b)
	child := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	child.Env = append(os.Environ(), fmt.Sprintf("%s=%s|%d|%d", simcamChildEnv, addr, n, 4_000_000))
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = child.Process.Signal(syscall.SIGTERM); _ = child.Wait() }()
	time.Sleep(time.Second)

	var cams []Camera
	for i := 1; i <= n; i++ {
		cams = append(cams, Camera{ID: fmt.Sprintf("cam%d", i), URL: fmt.Sprintf("rtsp://%s/cam%d", addr, i)})
	}
	dir := b.TempDir()
	rec, err := New(Options{
		DataDir: dir, Capacity: int64(n) * 40 << 20, BlockSize: 4 << 20, Retention: 24 * time.Hour,
		Cameras: cams, Ledger: &memLedger{},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer rec.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); rec.Run(ctx) }()
	// Let every camera connect before measuring.
	time.Sleep(3 * time.Second)
	before := rec.Stats()
	cpu0, wall0 := cpuTime(), time.Now()
	var peakRSS, peakAnon, peakFile int64
	var gc0 runtime.MemStats
	runtime.ReadMemStats(&gc0)
	for time.Since(wall0) < d {
		time.Sleep(time.Second)
		peakRSS = max(peakRSS, rssBytes())
		peakAnon = max(peakAnon, procStatus("RssAnon:"))
		peakFile = max(peakFile, procStatus("RssFile:"))
	}
	cpu, wall := cpuTime()-cpu0, time.Since(wall0)
	after := rec.Stats()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	writeHeapProfile(b, n)
	cancel()
	<-done

	var stored, dropped int64
	recording := 0
	for i, c := range after.Cameras {
		stored += c.BytesStored - before.Cameras[i].BytesStored
		dropped += int64(c.DroppedFrames - before.Cameras[i].DroppedFrames)
		if c.Connected {
			recording++
		}
	}
	streamMinutes := float64(n) * wall.Minutes()
	b.ReportMetric(float64(cpu.Milliseconds())/streamMinutes, "cpu-ms/stream-min")
	b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "%core")
	b.ReportMetric(float64(peakRSS)/(1<<20), "MiB-RSS")
	b.ReportMetric(float64(stored)/wall.Seconds()/1e6, "MB/s")
	b.ReportMetric(float64(dropped), "dropped-frames")
	b.ReportMetric(float64(recording), "cameras-connected")
	// Blocks appends had to erase themselves once the ring wrapped (the
	// reserve Run keeps erased should leave this at 0).
	b.ReportMetric(float64(rec.Ring().InlineErasures()), "inline-erasures")
	if os.Getenv(benchMemStatsEnv) != "" {
		b.ReportMetric(float64(peakAnon)/(1<<20), "MiB-RssAnon")
		b.ReportMetric(float64(peakFile)/(1<<20), "MiB-RssFile")
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "MiB-HeapInuse")
		b.ReportMetric(float64(ms.HeapSys-ms.HeapReleased)/(1<<20), "MiB-HeapRetained")
		b.ReportMetric(float64(ms.StackInuse)/(1<<20), "MiB-Stack")
		b.ReportMetric(float64(ms.TotalAlloc-gc0.TotalAlloc)/wall.Seconds()/(1<<20), "MiB-alloc/s")
		b.ReportMetric(float64(ms.NumGC-gc0.NumGC)/wall.Seconds(), "gc/s")
	}
}

// Diagnostics for memory work: MIMAMORI_BENCH_MEMSTATS=1 adds heap and
// RSS breakdown metrics; MIMAMORI_BENCH_HEAPPROFILE=DIR writes a pprof
// heap profile per camera count (DIR/heap-N.pprof) at the end of the run.
const (
	benchMemStatsEnv    = "MIMAMORI_BENCH_MEMSTATS"
	benchHeapProfileEnv = "MIMAMORI_BENCH_HEAPPROFILE"
)

func writeHeapProfile(b *testing.B, n int) {
	dir := os.Getenv(benchHeapProfileEnv)
	if dir == "" {
		return
	}
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("heap-%d.pprof", n)))
	if err != nil {
		b.Logf("heap profile: %v", err)
		return
	}
	defer f.Close()
	runtime.GC() // the profile shows live objects as of the last GC
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		b.Logf("heap profile: %v", err)
	}
}
