package ring

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"mimamori/core"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// fakeClock is a wall clock and a monotonic clock. Set moves the wall
// clock to t; moving it forward is time passing (the monotonic clock
// follows), moving it back is a step. Step moves only the wall clock.
type fakeClock struct {
	mu   sync.Mutex
	t    time.Time
	mono time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Mono() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mono
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	if d := t.Sub(c.t); d > 0 {
		c.mono += d
	}
	c.t = t
	c.mu.Unlock()
}

// Advance lets d of real time pass.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mono += d
	c.mu.Unlock()
}

// Step moves the wall clock by d; no time passes.
func (c *fakeClock) Step(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fakeErasures is the ledger. Strict by default (every call is kept, so a
// double record shows); with dedup it behaves like core, ignoring a repeat
// of (Block, Generation, Camera). failAfter records first, then fails: a
// crash between recording and freeing the block.
type fakeErasures struct {
	mu        sync.Mutex
	got       []core.Erasure
	calls     int   // RecordErasure and RecordErasures calls
	offered   int   // proofs handed over in them
	batches   []int // proofs per RecordErasures call
	fail      error
	failAfter bool
	dedup     bool
	hook      func(call int) // if set, runs (unlocked) at the start of each call
}

func (f *fakeErasures) RecordErasure(e core.Erasure) error {
	f.mu.Lock()
	hook := f.hook
	f.calls++
	call := f.calls
	f.mu.Unlock()
	if hook != nil {
		hook(call)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.offered++
	if f.fail != nil && !f.failAfter {
		return f.fail
	}
	dup := false
	for _, g := range f.got {
		dup = dup || (g.Block == e.Block && g.Generation == e.Generation && g.Camera == e.Camera)
	}
	if !dup || !f.dedup {
		f.got = append(f.got, e)
	}
	return f.fail
}

// RecordErasures is one call for a batch (one commit in core).
func (f *fakeErasures) RecordErasures(es []core.Erasure) error {
	f.mu.Lock()
	hook := f.hook
	f.calls++
	call := f.calls
	f.batches = append(f.batches, len(es))
	f.mu.Unlock()
	if hook != nil {
		hook(call)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil && !f.failAfter {
		return f.fail
	}
	for _, e := range es {
		f.offered++
		dup := false
		for _, g := range f.got {
			dup = dup || (g.Block == e.Block && g.Generation == e.Generation && g.Camera == e.Camera)
		}
		if !dup || !f.dedup {
			f.got = append(f.got, e)
		}
	}
	return f.fail
}

func (f *fakeErasures) list() []core.Erasure {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]core.Erasure(nil), f.got...)
}

func (f *fakeErasures) setFail(err error) {
	f.mu.Lock()
	f.fail = err
	f.mu.Unlock()
}

type fakeHolds struct {
	mu    sync.Mutex
	holds []core.HoldRange
}

func (f *fakeHolds) ActiveHolds(time.Time) []core.HoldRange {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]core.HoldRange(nil), f.holds...)
}

func (f *fakeHolds) set(h ...core.HoldRange) {
	f.mu.Lock()
	f.holds = h
	f.mu.Unlock()
}

type env struct {
	dir   string
	clock *fakeClock
	er    *fakeErasures
	holds *fakeHolds
}

func newEnv(t testing.TB) *env {
	return &env{dir: t.TempDir(), clock: &fakeClock{t: t0}, er: &fakeErasures{}, holds: &fakeHolds{}}
}

// tinyOpts: 16 blocks of 64 KiB.
func (e *env) tinyOpts() Options {
	return Options{
		Dir: e.dir, Capacity: 16 * 64 << 10, BlockSize: 64 << 10,
		Now: e.clock.Now, Mono: e.clock.Mono, BootID: "test-boot", Erasures: e.er, Holds: e.holds,
		HoldShare:    0.25,
		SyncInterval: time.Hour, // tests call Sync themselves
		ClockSynced:  func() bool { return false },
	}
}

func mustOpen(t testing.TB, o Options) *Ring {
	t.Helper()
	r, err := Open(o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return r
}

// payloadFor is deterministic content for camera/index so reads can be
// checked bit for bit without keeping copies.
func payloadFor(cam string, i, n int) []byte {
	seed := uint64(i)
	for _, c := range []byte(cam) {
		seed = seed*131 + uint64(c)
	}
	rng := rand.New(rand.NewPCG(seed, 42))
	b := make([]byte, n)
	for j := 0; j+8 <= n; j += 8 {
		binary.LittleEndian.PutUint64(b[j:], rng.Uint64())
	}
	for j := n &^ 7; j < n; j++ {
		b[j] = byte(rng.Uint32())
	}
	return b
}

func initFor(cam string) []byte {
	return append([]byte("ftypmoov-"+cam+"-"), payloadFor(cam, -1, 300)...)
}

// appendSeq appends fragments i in [from, to) of one second each starting
// at t0+i s and keeps the fake clock at the newest fragment end.
func appendSeq(t testing.TB, r *Ring, e *env, cam string, initID uint32, from, to, size int) {
	t.Helper()
	for i := from; i < to; i++ {
		st := t0.Add(time.Duration(i) * time.Second)
		e.clock.Set(st.Add(time.Second))
		err := r.AppendFragment(Fragment{Camera: cam, Start: st, Duration: time.Second,
			Keyframe: i%2 == 0, InitID: initID, Payload: payloadFor(cam, i, size)})
		if err != nil {
			t.Fatalf("append %s #%d: %v", cam, i, err)
		}
	}
}

func fragIndex(f FragmentRef) int { return int(f.Start.Sub(t0) / time.Second) }

// verifyAll reads back every indexed fragment of cam and checks it bit for
// bit against payloadFor.
func verifyAll(t testing.TB, r *Ring, cam string, size int) []FragmentRef {
	t.Helper()
	refs, err := r.Fragments(cam, t0.Add(-time.Hour), t0.Add(1000*time.Hour))
	if err != nil {
		t.Fatalf("Fragments: %v", err)
	}
	for _, f := range refs {
		got, err := r.ReadFragment(f)
		if err != nil {
			t.Fatalf("ReadFragment %s #%d: %v", cam, fragIndex(f), err)
		}
		if !bytes.Equal(got, payloadFor(cam, fragIndex(f), size)) {
			t.Fatalf("%s #%d: payload differs", cam, fragIndex(f))
		}
	}
	return refs
}

// readBlock reads a block straight from ring.dat.
func readBlock(t testing.TB, dir string, b uint32, bs int64) []byte {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "ring.dat"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, bs)
	if _, err := f.ReadAt(buf, int64(b)*bs); err != nil {
		t.Fatal(err)
	}
	return buf
}

// checkTailsZero asserts that nothing of an earlier lap can be read: each
// block's key slot holds the key of its current generation only, and past
// each block's used bytes no record carries that generation.
func checkTailsZero(t testing.TB, r *Ring, dir string) {
	t.Helper()
	r.mu.Lock()
	blocks := make([]blockMeta, len(r.blocks))
	copy(blocks, r.blocks)
	r.mu.Unlock()
	for i, m := range blocks {
		if m.state == stateErasing {
			continue
		}
		if _, ok := r.keys.keyFor(uint32(i), m.gen); !ok && !m.plain {
			t.Fatalf("block %d (%s, gen %d): no key for its generation", i, m.state, m.gen)
		}
		buf := readBlock(t, dir, uint32(i), r.bs)
		for off := int64(m.used); off+hdrV2 <= int64(len(buf)); off += 8 {
			if h, err := decodeHeader(buf[off:]); err == nil && h.Gen == m.gen {
				t.Fatalf("block %d (%s, used %d): a record of the current generation at %d", i, m.state, m.used, off)
			}
		}
	}
}

// checkErasuresUnique asserts one ledger entry per (block, generation, camera).
func checkErasuresUnique(t testing.TB, ers []core.Erasure) {
	t.Helper()
	type key struct {
		b   uint32
		g   uint64
		cam string
	}
	seen := map[key]bool{}
	for _, e := range ers {
		k := key{e.Block, e.Generation, e.Camera}
		if seen[k] {
			t.Fatalf("erasure recorded twice: %+v", e)
		}
		seen[k] = true
		if e.Camera == "" || e.ErasedAt.IsZero() || e.Bytes <= 0 || e.To.Before(e.From) {
			t.Fatalf("bad erasure record: %+v", e)
		}
	}
}

// crash abandons the ring: files closed, nothing synced or committed.
func crash(r *Ring) { r.abandon() }

var errLedgerDown = errors.New("ledger unavailable")

// sweepAt lets time pass until t (by the wall clock, which must not go
// back) and sweeps.
func sweepAt(r *Ring, e *env, t time.Time) error {
	e.clock.Set(t)
	return r.Sweep()
}

// blockKey copies block b's current key (tests only: the ring never hands
// keys out).
func blockKey(t testing.TB, r *Ring, b uint32) [keySize]byte {
	t.Helper()
	r.mu.Lock()
	gen := r.blocks[b].gen
	r.mu.Unlock()
	r.keyMu.RLock()
	defer r.keyMu.RUnlock()
	k, ok := r.keys.keyFor(b, gen)
	if !ok {
		t.Fatalf("block %d has no key", b)
	}
	return *k
}

// checkKeysGone scans every byte of every file under dir for the keys.
func checkKeysGone(t testing.TB, dir string, keys ...[keySize]byte) {
	t.Helper()
	for _, k := range keys {
		if where := findInDir(t, dir, k[:]); where != "" {
			t.Fatalf("an erased block's key survives in %s", where)
		}
	}
}

// findInDir returns "file@offset" of the first occurrence of pat in any
// file under dir, or "".
func findInDir(t testing.TB, dir string, pat []byte) string {
	t.Helper()
	var found string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || found != "" {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if i := bytes.Index(b, pat); i >= 0 {
			found = fmt.Sprintf("%s@%d", path, i)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// invertByte inverts the byte at off of f: a change whatever the byte was (a
// fixed value written over random bytes is sometimes no change at all).
func invertByte(t testing.TB, f interface {
	ReadAt([]byte, int64) (int, error)
	WriteAt([]byte, int64) (int, error)
}, off int64) {
	t.Helper()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}
