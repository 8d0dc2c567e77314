package ring

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BenchmarkAppend64Cameras: 64 cameras each appending 1 s fragments of
// 500 kB (4 Mbit/s) into a 1 GiB ring of 4 MiB blocks, with the 1 s sync
// loop running. It wraps, so overwrite erasures are included. Reported:
// MB/s and CPU; cpu-%-realtime is the CPU share the 64 real-time streams
// would need (CPU seconds per simulated second).
func BenchmarkAppend64Cameras(b *testing.B) {
	const cams, fragBytes = 64, 500_000
	dir := b.TempDir()
	r, err := Open(Options{Dir: dir, Capacity: 1 << 30, Erasures: &fakeErasures{}, Now: func() time.Time { return t0 }})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)
	ids := make([]uint32, cams)
	payloads := make([][]byte, cams)
	for c := range cams {
		name := fmt.Sprintf("cam%d", c)
		ids[c], _ = r.AppendInit(name, initFor(name))
		payloads[c] = payloadFor(name, c, fragBytes)
	}
	per := max(b.N/cams, 1)
	b.SetBytes(fragBytes)
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	var latMu sync.Mutex
	var latMax time.Duration
	for c := range cams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("cam%d", c)
			var mx time.Duration
			defer func() { latMu.Lock(); latMax = max(latMax, mx); latMu.Unlock() }()
			for i := range per {
				t := time.Now()
				if err := r.AppendFragment(Fragment{Camera: name, Start: t0.Add(time.Duration(i) * time.Second),
					Duration: time.Second, Keyframe: true, InitID: ids[c], Payload: payloads[c]}); err != nil {
					b.Error(err)
					return
				}
				mx = max(mx, time.Since(t))
			}
		}()
	}
	wg.Wait()
	if err := r.Sync(); err != nil {
		b.Fatal(err)
	}
	el := time.Since(start)
	b.ReportMetric(float64(latMax.Microseconds())/1e3, "append-max-ms")
	b.ReportMetric(float64(r.InlineErasures()), "inline-erasures")
	b.ReportMetric(float64(r.ReserveErasures()), "reserve-erasures")
	b.StopTimer()
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano()-ru0.Utime.Nano()) + time.Duration(ru1.Stime.Nano()-ru0.Stime.Nano())
	frags := float64(per * cams)
	b.ReportMetric(frags*fragBytes/1e6/el.Seconds(), "MB/s")
	b.ReportMetric(cpu.Seconds()/frags*1e3, "cpu-ms/frag")
	// One simulated second = 64 fragments.
	b.ReportMetric(100*cpu.Seconds()/frags*cams, "cpu-%-realtime")
	st := r.Stats()
	b.ReportMetric(float64(st.FsyncLatencyP50.Microseconds()), "fsync-p50-µs")
	b.ReportMetric(float64(st.FsyncLatencyMax.Microseconds()), "fsync-max-µs")
}

// BenchmarkAppendPaced64Cameras: 64 cameras at their real rate (one 500 kB
// fragment per camera per second, spread over the second) into a 512 MiB
// ring that wraps after about 16 s, for MIMAMORI_RING_BENCH_SECONDS
// (default 30). Reported: the slowest append, and how many blocks appends
// erased inline versus the reserve Run keeps (reserve.go). Run with
// -benchtime 1x.
func BenchmarkAppendPaced64Cameras(b *testing.B) {
	const cams, fragBytes = 64, 500_000
	secs := 30
	if v, err := strconv.Atoi(os.Getenv("MIMAMORI_RING_BENCH_SECONDS")); err == nil && v > 0 {
		secs = v
	}
	for range b.N {
		dir := b.TempDir()
		r, err := Open(Options{Dir: dir, Capacity: 512 << 20, Erasures: &fakeErasures{}})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); r.Run(ctx) }()
		ids := make([]uint32, cams)
		payloads := make([][]byte, cams)
		for c := range cams {
			name := fmt.Sprintf("cam%d", c)
			ids[c], _ = r.AppendInit(name, initFor(name))
			payloads[c] = payloadFor(name, c, fragBytes)
		}
		var lats []time.Duration
		var latMu sync.Mutex
		var wg sync.WaitGroup
		start := time.Now()
		for c := range cams {
			wg.Add(1)
			go func() {
				defer wg.Done()
				name := fmt.Sprintf("cam%d", c)
				// Stagger the cameras across the second, as real ones are.
				next := start.Add(time.Duration(c) * time.Second / cams)
				var mine []time.Duration
				for i := range secs {
					time.Sleep(time.Until(next))
					next = next.Add(time.Second)
					t := time.Now()
					if err := r.AppendFragment(Fragment{Camera: name, Start: start.Add(time.Duration(i) * time.Second),
						Duration: time.Second, Keyframe: true, InitID: ids[c], Payload: payloads[c]}); err != nil {
						b.Error(err)
						return
					}
					mine = append(mine, time.Since(t))
				}
				latMu.Lock()
				lats = append(lats, mine...)
				latMu.Unlock()
			}()
		}
		wg.Wait()
		cancel()
		<-done
		if err := r.Close(); err != nil {
			b.Fatal(err)
		}
		slices.Sort(lats)
		if len(lats) > 0 {
			b.ReportMetric(float64(lats[len(lats)*99/100].Microseconds())/1e3, "append-p99-ms")
			b.ReportMetric(float64(lats[len(lats)-1].Microseconds())/1e3, "append-max-ms")
		}
		b.ReportMetric(float64(r.InlineErasures()), "inline-erasures")
		b.ReportMetric(float64(r.ReserveErasures()), "reserve-erasures")
	}
}
