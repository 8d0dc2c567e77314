package ring

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"mimamori/core"
)

// The ring at the size of a real appliance: 64 cameras × 4 Mbit/s with
// 7 days' retention need about 19.4 TB, 5.3 million blocks of 4 MiB.
// BenchmarkRingScale builds a full ring of MIMAMORI_RING_BLOCKS blocks
// (default 65,536; the appliance's count is 5322496) and measures, in a
// child process that holds nothing but the ring, what the block count
// costs: open and recovery time, RSS, ns per append at 64 cameras, per
// sweep, per Stats and Usages, per idle reserve refill.
//
// Honest about what it measures: blocks are 4 KiB (the count, not the
// bytes, is what the bookkeeping scales with), ring.dat is a sparse file
// (the ring preallocates; a 20 TB file is not possible here), and nothing
// is fsynced (Options.NoSync) so the numbers are CPU and memory, not this
// shared disk's latency. The index is built directly (as a full ring in
// steady state would have it: every block sealed but a reserve of 16,
// MIMAMORI_RING_FRAGS fragment entries per block, default 1 — a real
// 4 MiB block holds 8), with 8 holds of a day each, one on the oldest
// day. Run:
//
//	MIMAMORI_RING_BLOCKS=5322496 go test ./recorder/ring -run '^$' -bench RingScale -benchtime 1x -timeout 2h
func BenchmarkRingScale(b *testing.B) {
	n := envInt("MIMAMORI_RING_BLOCKS", 1<<16)
	frags := envInt("MIMAMORI_RING_FRAGS", 1)
	appends := envInt("MIMAMORI_RING_APPENDS", 500) // per camera
	for range b.N {
		dir := b.TempDir()
		t := time.Now()
		buildScaleRing(b, dir, n, frags)
		b.Logf("built a full ring of %d blocks in %s", n, time.Since(t).Round(time.Millisecond))
		res := runScaleChild(b, dir, "open", n, appends)
		for _, k := range slices.Sorted(maps.Keys(res)) {
			b.ReportMetric(res[k], k)
		}
		cdir := b.TempDir()
		cres := runScaleChild(b, cdir, "create", n, 0)
		for _, k := range slices.Sorted(maps.Keys(cres)) {
			b.ReportMetric(cres[k], "create-"+k)
		}
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

const (
	scaleCams  = 64
	scaleBS    = 4096
	scaleFree  = 16
	scaleSpan  = 8 * time.Second // footage per block (4 MiB at 4 Mbit/s)
	scaleBoot  = "scale-bench"
	scaleMono0 = time.Duration(1000) * time.Hour
	scaleFrag  = 488 // payload bytes: 4 Mbit/s scaled like the blocks
)

var scaleT0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// scaleClockE is ring time at the end of the built ring's footage.
func scaleClockE(n int) int64 { return int64((n/scaleCams + 2)) * int64(scaleSpan) }

// buildScaleRing writes index.db, keys.dat and a sparse ring.dat of a
// full ring in the on-disk formats of index.go and keys.go (written out
// here byte by byte, so the same builder serves every version of the
// in-memory code).
func buildScaleRing(tb testing.TB, dir string, n, fragsPer int) {
	tb.Helper()
	f, err := os.Create(filepath.Join(dir, "ring.dat"))
	if err != nil {
		tb.Fatal(err)
	}
	if err := f.Truncate(int64(n) * scaleBS); err != nil {
		tb.Fatal(err)
	}
	f.Close()
	db, err := bolt.Open(filepath.Join(dir, "index.db"), 0o600, &bolt.Options{NoSync: true, NoFreelistSync: false})
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	be := binary.BigEndian
	gen := uint64(0x5ca1e<<32) + 3
	sealed := n - scaleFree
	perCam := (sealed + scaleCams - 1) / scaleCams
	fragDur := int64(scaleSpan) / int64(fragsPer)
	recSize := recordSize(recV2, scaleFrag)
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bktMeta, bktBlocks, bktCameras, bktFrags, bktInits, bktHolds, bktDamaged} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bktMeta)
		meta.Put([]byte("blockSize"), u64bytes(scaleBS))
		meta.Put([]byte("blocks"), u64bytes(uint64(n)))
		e := scaleClockE(n)
		clk := make([]byte, 32, 32+len(scaleBoot))
		be.PutUint64(clk[0:], uint64(e))
		be.PutUint64(clk[8:], uint64(scaleT0.UnixNano()+e))
		be.PutUint64(clk[16:], uint64(scaleT0.UnixNano()+e))
		be.PutUint64(clk[24:], uint64(scaleMono0))
		meta.Put([]byte("clock"), append(clk, scaleBoot...))
		cams := tx.Bucket(bktCameras)
		cams.SetSequence(scaleCams)
		for c := range scaleCams {
			name := fmt.Sprintf("cam%d", c)
			v := make([]byte, 20)
			be.PutUint32(v[0:], uint32(c+1))
			be.PutUint64(v[4:], uint64(perCam*fragsPer+1))
			be.PutUint32(v[12:], 1)
			be.PutUint32(v[16:], 1)
			cams.Put([]byte(name), v)
			if _, err := tx.Bucket(bktFrags).CreateBucketIfNotExists(u32key(uint32(c + 1))); err != nil {
				return err
			}
			tx.Bucket(bktInits).Put(initKey(uint32(c+1), 1), initFor(name))
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	// Blocks and fragment entries in chunks, in key order, pages full.
	const chunk = 200_000
	for lo := 0; lo < n; lo += chunk {
		err := db.Update(func(tx *bolt.Tx) error {
			bk := tx.Bucket(bktBlocks)
			bk.FillPercent = 1
			for i := lo; i < min(lo+chunk, n); i++ {
				v := make([]byte, 44+4+9)
				if i >= sealed {
					be.PutUint64(v[8:], gen)
					bk.Put(u32key(uint32(i)), append(v[:44], make([]byte, 9)...))
					continue
				}
				c, k := i%scaleCams, i/scaleCams
				first := scaleT0.Add(time.Duration(k) * scaleSpan).UnixNano()
				v[0] = byte(stateSealed)
				be.PutUint32(v[4:], uint32(c+1))
				be.PutUint64(v[8:], gen)
				be.PutUint64(v[16:], uint64(int64(fragsPer)*recSize))
				be.PutUint64(v[24:], uint64(first))
				be.PutUint64(v[32:], uint64(first+int64(scaleSpan)))
				be.PutUint32(v[40:], 1)
				be.PutUint32(v[44:], 1)
				be.PutUint64(v[48:], uint64(int64(k+1)*int64(scaleSpan)))
				v[56] = metaRun // its fragments are one run (Coverage answers from the table)
				bk.Put(u32key(uint32(i)), v)
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	for c := range scaleCams {
		for lo := 0; lo < perCam; lo += chunk / fragsPer {
			err := db.Update(func(tx *bolt.Tx) error {
				fb := tx.Bucket(bktFrags).Bucket(u32key(uint32(c + 1)))
				fb.FillPercent = 1
				for k := lo; k < min(lo+chunk/fragsPer, perCam); k++ {
					i := k*scaleCams + c
					if i >= sealed {
						break
					}
					first := scaleT0.Add(time.Duration(k) * scaleSpan).UnixNano()
					for j := range fragsPer {
						e := fragEntry{block: uint32(i), offset: int64(j) * recSize, length: scaleFrag, dur: fragDur,
							flags: flagKeyframe, initID: 1, gen: gen}
						fb.Put(timeKey(first+int64(j)*fragDur, uint64(k*fragsPer+j+1)), e.encode())
					}
				}
				return nil
			})
			if err != nil {
				tb.Fatal(err)
			}
		}
	}
	// keys.dat: every slot holds a key of its block's generation.
	kf, err := os.Create(filepath.Join(dir, "keys.dat"))
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriterSize(kf, 1<<20)
	tab := crc32.MakeTable(crc32.Castagnoli)
	var slot [slotSize]byte
	for range n {
		clear(slot[:])
		be.PutUint64(slot[0:], gen)
		rand.Read(slot[8:40])
		be.PutUint32(slot[40:], crc32.Checksum(slot[:40], tab))
		w.Write(slot[:])
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	kf.Close()
}

func runScaleChild(b *testing.B, dir, mode string, n, appends int) map[string]float64 {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestRingScaleHelperProcess$", "-test.v", "-test.timeout=2h")
	cmd.Env = append(os.Environ(), "MIMAMORI_RING_SCALE_CHILD="+dir, "MIMAMORI_RING_SCALE_MODE="+mode,
		"MIMAMORI_RING_BLOCKS="+strconv.Itoa(n), "MIMAMORI_RING_APPENDS="+strconv.Itoa(appends), "GOGC=50")
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("child (%s): %v\n%s", mode, err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "SCALE_RESULT "); ok {
			res := map[string]float64{}
			if err := json.Unmarshal([]byte(rest), &res); err != nil {
				b.Fatal(err)
			}
			return res
		}
	}
	b.Fatalf("child (%s) printed no result:\n%s", mode, out)
	return nil
}

// procStatus reads memory figures (kB) from /proc/self/status.
func procStatus() map[string]float64 {
	out := map[string]float64{}
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(raw), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch k {
		case "VmRSS", "VmHWM", "RssAnon", "RssFile":
			f := strings.Fields(v)
			if len(f) > 0 {
				x, _ := strconv.ParseFloat(f[0], 64)
				out[k] = x / 1024 // MiB
			}
		}
	}
	return out
}

type countErasures struct{ n atomic.Int64 }

func (c *countErasures) RecordErasure(core.Erasure) error { c.n.Add(1); return nil }
func (c *countErasures) RecordErasures(es []core.Erasure) error {
	c.n.Add(int64(len(es)))
	return nil
}

type scaleHolds struct {
	mu sync.Mutex
	hs []core.HoldRange
}

func (h *scaleHolds) ActiveHolds(time.Time) []core.HoldRange {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.hs)
}

func (h *scaleHolds) set(hs []core.HoldRange) {
	h.mu.Lock()
	h.hs = hs
	h.mu.Unlock()
}

// TestRingScaleHelperProcess is BenchmarkRingScale's child: it opens the
// ring in MIMAMORI_RING_SCALE_CHILD and prints its measurements.
func TestRingScaleHelperProcess(t *testing.T) {
	dir := os.Getenv("MIMAMORI_RING_SCALE_CHILD")
	if dir == "" {
		t.Skip("run by BenchmarkRingScale in a process of its own")
	}
	n := envInt("MIMAMORI_RING_BLOCKS", 1<<16)
	res := map[string]float64{}
	mem := func(prefix string) {
		for k, v := range procStatus() {
			res[prefix+"-"+k+"-MiB"] = v
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		res[prefix+"-heap-MiB"] = float64(ms.HeapInuse) / (1 << 20)
	}
	var elapsed atomic.Int64 // ns of fake time since the start
	e0 := scaleClockE(n)
	now := func() time.Time { return scaleT0.Add(time.Duration(e0 + elapsed.Load())) }
	mono := func() time.Duration { return scaleMono0 + time.Duration(elapsed.Load()) }
	var base []core.HoldRange
	perCam := (n - scaleFree + scaleCams - 1) / scaleCams
	day := int(24 * time.Hour / scaleSpan)
	for c := range 8 { // a day of cameras 0..7, camera 0's the oldest
		from := scaleT0.Add(time.Duration(min(c*day, perCam)) * scaleSpan)
		base = append(base, core.HoldRange{HoldID: fmt.Sprintf("h%d", c), Camera: fmt.Sprintf("cam%d", c),
			From: from, To: from.Add(24 * time.Hour), Until: scaleT0.Add(1000 * 24 * time.Hour)})
	}
	holds := &scaleHolds{hs: base}
	er := &countErasures{}
	appends := envInt("MIMAMORI_RING_APPENDS", 500)
	// Nothing expires until the appends are done; then each sweep 8 s
	// later finds about one block per camera expired.
	retention := time.Duration(e0) + time.Duration(appends)*time.Second
	o := Options{Dir: dir, Capacity: int64(n) * scaleBS, BlockSize: scaleBS, Retention: retention,
		HoldShare: 0.5, Now: now, Mono: mono, BootID: scaleBoot, ClockSynced: func() bool { return true },
		Erasures: er, Holds: holds, NoSync: true, SyncInterval: time.Second,
		fallocate: func(fd int, size int64) error { return os.Truncate(filepath.Join(dir, "ring.dat"), size) },
		freeSpace: func(string) (int64, error) { return 1 << 50, nil }}
	// Open's damaged-index check alone: the fragment buckets' ends.
	if db, err := bolt.Open(filepath.Join(dir, "index.db"), 0o600, &bolt.Options{ReadOnly: true}); err == nil {
		ci := time.Now()
		if err := checkIndex(db); err != nil {
			t.Fatal(err)
		}
		res["checkindex-s"] = time.Since(ci).Seconds()
		db.Close()
	}
	debug.FreeOSMemory()
	start := time.Now()
	r, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	res["open-s"] = time.Since(start).Seconds()
	mem("open")
	gc := time.Now()
	runtime.GC()
	res["gc-ms"] = float64(time.Since(gc).Microseconds()) / 1000
	if m := os.Getenv("MIMAMORI_RING_SCALE_MODE"); m == "create" || m == "openonly" {
		r.Close()
		printScale(res)
		return
	}

	timeIt := func(name string, k int, f func()) {
		f() // warm: the first call after Open meets its garbage being collected
		t0 := time.Now()
		for range k {
			f()
		}
		res[name+"-ns"] = float64(time.Since(t0).Nanoseconds()) / float64(k)
	}
	timeIt("stats", 200, func() { r.Stats() })
	timeIt("usages", 200, func() { r.Usages() })
	timeIt("refill-idle", 20, func() {
		if err := r.RefillReserve(); err != nil {
			t.Fatal(err)
		}
	})
	// What the console's recordings tab asks per camera (tui loadCoverage):
	// the whole retention of one camera (here one fragment entry per block;
	// a real 4 MiB block has 8).
	timeIt("coverage-retention-one-camera", 3, func() {
		if _, err := r.Coverage("cam9", scaleT0, scaleT0.Add(time.Duration(perCam+1)*scaleSpan)); err != nil {
			t.Fatal(err)
		}
	})
	// The same, merging every fragment (Coverage before the block table).
	timeIt("coverage-fragments-retention-one-camera", 3, func() {
		if _, err := r.coverageFromFragments("cam9", scaleT0, scaleT0.Add(time.Duration(perCam+1)*scaleSpan)); err != nil {
			t.Fatal(err)
		}
	})
	timeIt("sweep-idle", 5, func() {
		if err := r.Sweep(); err != nil {
			t.Fatal(err)
		}
	})

	// 64 cameras append 1 s fragments while Run syncs, refills and sweeps.
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan struct{})
	go func() { defer close(runDone); r.Run(ctx) }()
	lats := make([][]time.Duration, scaleCams)
	var wg sync.WaitGroup
	astart := time.Now()
	for c := range scaleCams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("cam%d", c)
			base := scaleT0.Add(time.Duration(perCam+1) * scaleSpan)
			payload := payloadFor(name, c, scaleFrag)
			for i := range appends {
				for { // fake time follows the footage
					cur := elapsed.Load()
					want := int64(i+1) * int64(time.Second)
					if cur >= want || elapsed.CompareAndSwap(cur, want) {
						break
					}
				}
				a := time.Now()
				err := r.AppendFragment(Fragment{Camera: name, Start: base.Add(time.Duration(i) * time.Second),
					Duration: time.Second, Keyframe: true, InitID: 1, Payload: payload})
				lats[c] = append(lats[c], time.Since(a))
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	total := time.Since(astart)
	cancel()
	<-runDone
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	slices.Sort(all)
	if len(all) > 0 {
		res["append-wall-ns"] = float64(total.Nanoseconds()) / float64(len(all))
		res["append-p50-us"] = float64(all[len(all)/2].Microseconds())
		res["append-p99-us"] = float64(all[len(all)*99/100].Microseconds())
		res["append-max-ms"] = float64(all[len(all)-1].Microseconds()) / 1000
	}
	res["inline-erasures"] = float64(r.InlineErasures())
	res["reserve-erasures"] = float64(r.ReserveErasures())
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}
	// Reads still work: the last fragment of a few cameras, bit for bit.
	for c := range 4 {
		name := fmt.Sprintf("cam%d", c)
		base := scaleT0.Add(time.Duration(perCam+1) * scaleSpan)
		refs, err := r.Fragments(name, base.Add(time.Duration(appends-1)*time.Second), base.Add(time.Duration(appends)*time.Second))
		if err != nil || len(refs) == 0 {
			t.Fatalf("%s: %d refs, %v", name, len(refs), err)
		}
		got, err := r.ReadFragment(refs[len(refs)-1])
		if err != nil || string(got) != string(payloadFor(name, c, scaleFrag)) {
			t.Fatalf("%s: read back: %v", name, err)
		}
	}

	// Retention: past what overwriting erased already (untimed), then
	// each sweep 8 s later erases about one block per camera.
	elapsed.Add(int64(er.n.Load()/(scaleCams-1)+2) * int64(scaleSpan))
	if err := r.Sweep(); err != nil {
		t.Fatal(err)
	}
	erased0 := er.n.Load()
	var sweepNs int64
	const sweeps = 10
	for range sweeps {
		elapsed.Add(int64(scaleSpan))
		s := time.Now()
		if err := r.Sweep(); err != nil {
			t.Fatal(err)
		}
		sweepNs += time.Since(s).Nanoseconds()
	}
	res["sweep-ns"] = float64(sweepNs) / sweeps
	res["sweep-erased-per"] = float64(er.n.Load()-erased0) / sweeps
	timeIt("stats-after", 50, func() { r.Stats() })

	// A police request holds a day of every camera (the third day of the
	// ring): the ring applies it, then its release.
	from := scaleT0.Add(time.Duration(min(2*day, perCam)) * scaleSpan)
	police := slices.Clone(base)
	for c := range scaleCams {
		police = append(police, core.HoldRange{HoldID: fmt.Sprintf("p%d", c), Camera: fmt.Sprintf("cam%d", c),
			From: from, To: from.Add(24 * time.Hour), Until: scaleT0.Add(1000 * 24 * time.Hour)})
	}
	holds.set(police)
	hs := time.Now()
	if err := r.Step(false); err != nil {
		t.Fatal(err)
	}
	res["hold-day-all-cams-apply-ms"] = float64(time.Since(hs).Microseconds()) / 1000
	res["held-blocks"] = float64(r.Stats().HeldBytes / scaleBS)
	timeIt("checkhold", 3, func() {
		if err := r.CheckHold("cam9", from, from.Add(time.Hour), police); err != nil && !errors.Is(err, core.ErrHoldCapacity) {
			t.Fatal(err)
		}
	})
	timeIt("sweep-held-idle", 3, func() {
		if err := r.Sweep(); err != nil {
			t.Fatal(err)
		}
	})
	holds.set(base)
	hs = time.Now()
	if err := r.Step(false); err != nil {
		t.Fatal(err)
	}
	res["hold-release-apply-ms"] = float64(time.Since(hs).Microseconds()) / 1000
	mem("end")
	gc = time.Now()
	runtime.GC()
	res["gc-end-ms"] = float64(time.Since(gc).Microseconds()) / 1000
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res["gc-pause-total-ms"] = float64(ms.PauseTotalNs) / 1e6
	res["gc-cycles"] = float64(ms.NumGC)
	cs := time.Now()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	res["close-s"] = time.Since(cs).Seconds()
	// A restart of the ring just closed.
	debug.FreeOSMemory()
	start = time.Now()
	r, err = Open(o)
	if err != nil {
		t.Fatal(err)
	}
	res["reopen-s"] = time.Since(start).Seconds()
	r.Close()
	printScale(res)
}

func printScale(res map[string]float64) {
	b, _ := json.Marshal(res)
	fmt.Printf("SCALE_RESULT %s\n", b)
}

// TestRingScaleBuild builds a full ring in MIMAMORI_RING_SCALE_BUILD
// (for profiling Open by hand with the helper process).
func TestRingScaleBuild(t *testing.T) {
	dir := os.Getenv("MIMAMORI_RING_SCALE_BUILD")
	if dir == "" {
		t.Skip("set MIMAMORI_RING_SCALE_BUILD to a directory to build a full ring in")
	}
	buildScaleRing(t, dir, envInt("MIMAMORI_RING_BLOCKS", 1<<16), envInt("MIMAMORI_RING_FRAGS", 1))
}
