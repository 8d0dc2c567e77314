package ring

import (
	"context"
	"fmt"
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
	for c := range cams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("cam%d", c)
			for i := range per {
				if err := r.AppendFragment(Fragment{Camera: name, Start: t0.Add(time.Duration(i) * time.Second),
					Duration: time.Second, Keyframe: true, InitID: ids[c], Payload: payloads[c]}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := r.Sync(); err != nil {
		b.Fatal(err)
	}
	el := time.Since(start)
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
