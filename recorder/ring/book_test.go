package ring

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"mimamori/core"
)

// checkBook recomputes the bookkeeping (book.go) from the block table
// and fails on any difference: what the incremental structures say must
// be what a walk of every block would.
func checkBook(t testing.TB, r *Ring) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	fail := func(format string, a ...any) {
		t.Helper()
		t.Fatalf("bookkeeping: "+format, a...)
	}
	var used int64
	free, held, keyless := 0, 0, 0
	bytes := map[uint32]int64{}
	refs := map[uint32]map[uint32]int32{}
	trees := map[uint32][]uint32{}
	var order []uint32
	for i := range r.blocks {
		b, m := uint32(i), &r.blocks[i]
		if r.free.has(b) != (m.state == stateFree) {
			fail("block %d (%s): in the free set %v", b, m.state, r.free.has(b))
		}
		_, leased := r.lease[b]
		if r.avail.has(b) != (m.state == stateFree && leased) {
			fail("block %d (%s, leased %v): available %v", b, m.state, leased, r.avail.has(b))
		}
		if r.erasing.has(b) != (m.state == stateErasing) {
			fail("block %d (%s): in the erasing set %v", b, m.state, r.erasing.has(b))
		}
		if m.state == stateFree {
			free++
			if m.flags&(flagHeld|flagCam) != 0 {
				fail("free block %d has flags %b", b, m.flags)
			}
			continue
		}
		used += int64(m.used)
		if m.noKey() {
			keyless++
		}
		c := r.camByNum[m.camera]
		if (m.flags&flagCam != 0) != (c != nil) {
			fail("block %d of camera %d: booked with a camera %v", b, m.camera, m.flags&flagCam != 0)
		}
		wantHeld := false
		if c != nil {
			if refs[c.num] == nil {
				refs[c.num] = map[uint32]int32{}
			}
			r.forInits(b, func(id uint32) { refs[c.num][id]++ })
			if m.state == stateOpen || m.state == stateSealed {
				bytes[c.num] += int64(m.used)
			}
			if tracked(m) {
				trees[c.num] = append(trees[c.num], b)
				wantHeld = m.state != stateOpen && r.coveredLocked(c.name, m)
			}
		}
		if m.held() != wantHeld {
			fail("block %d (%s, footage %d..%d): held %v, holds say %v", b, m.state, m.first, m.last, m.held(), wantHeld)
		}
		if wantHeld {
			held++
		}
		if m.state == stateSealed && !wantHeld {
			order = append(order, b)
		}
	}
	if r.free.len() != free || r.usedBytes != used || r.heldN != held || r.keyless != keyless {
		fail("counters free %d used %d held %d keyless %d; blocks say %d, %d, %d, %d",
			r.free.len(), r.usedBytes, r.heldN, r.keyless, free, used, held, keyless)
	}
	slices.SortFunc(order, func(a, b uint32) int {
		if r.erasesBefore(a, b) {
			return -1
		}
		return 1
	})
	var got []uint32
	r.order.Ascend(func(b uint32) bool { got = append(got, b); return true })
	if !slices.Equal(got, order) {
		fail("erasure order %v, blocks say %v", got, order)
	}
	for _, c := range r.cams {
		if c.bytes != bytes[c.num] {
			fail("camera %s: %d bytes, blocks say %d", c.name, c.bytes, bytes[c.num])
		}
		want := refs[c.num]
		if len(want) == 0 {
			want = nil
		}
		have := c.initRefs
		if len(have) == 0 {
			have = nil
		}
		if fmt.Sprint(have) != fmt.Sprint(want) {
			fail("camera %s: init references %v, blocks say %v", c.name, have, want)
		}
		tw := trees[c.num]
		slices.SortFunc(tw, func(a, b uint32) int {
			if r.footageBefore(a, b) {
				return -1
			}
			return 1
		})
		var tg []uint32
		c.tree.Ascend(func(b uint32) bool { tg = append(tg, b); return true })
		if !slices.Equal(tg, tw) {
			fail("camera %s: tree %v, blocks say %v", c.name, tg, tw)
		}
		for _, b := range tw {
			if m := r.blocks[b]; m.last-m.first > c.maxExtent {
				fail("camera %s: block %d spans %d, more than maxExtent %d", c.name, b, m.last-m.first, c.maxExtent)
			}
		}
	}
}

// Random appends (four cameras, init changes, a camera whose clock goes
// back), syncs, reserve refills, sweeps, holds placed and released,
// crashes and restarts: after every step the bookkeeping is what a walk
// of the block table gives, and no proof is recorded twice.
func TestBookkeepingFollowsEveryChange(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			e := newEnv(t)
			e.er.dedup = true
			o := e.tinyOpts()
			o.Capacity, o.BlockSize = 96*4096, 4096
			o.Retention = 3 * time.Minute
			o.MaxBlockSpan = 20 * time.Second
			o.NoSync = true // a crash here is the process's: the page cache stays
			r := mustOpen(t, o)
			defer func() { r.Close() }()
			cams := []string{"cam1", "cam2", "cam3", "cam4"}
			ids := map[string]uint32{}
			next := map[string]int{}
			reopen := func(crashIt bool) {
				if crashIt {
					crash(r)
				} else if err := r.Close(); err != nil {
					t.Fatal(err)
				}
				r = mustOpen(t, o)
				for _, c := range cams {
					if _, ok := ids[c]; ok {
						ids[c], _ = r.AppendInit(c, initFor(c))
					}
				}
			}
			for step := range 1500 {
				switch op := rng.IntN(100); {
				case op < 70:
					c := cams[rng.IntN(len(cams))]
					if _, ok := ids[c]; !ok || rng.IntN(40) == 0 {
						init := initFor(c)
						if rng.IntN(2) == 0 {
							init = append(init, byte(rng.IntN(3))) // another init, sometimes one seen before
						}
						id, err := r.AppendInit(c, init)
						if err != nil {
							t.Fatal(err)
						}
						ids[c] = id
					}
					i := next[c]
					if c == "cam4" && rng.IntN(30) == 0 {
						i -= rng.IntN(60) // its clock went back
					}
					next[c] = i + 1
					st := t0.Add(time.Duration(i) * time.Second)
					e.clock.Advance(time.Second / 4)
					err := r.AppendFragment(Fragment{Camera: c, Start: st, Duration: time.Second, Keyframe: i%2 == 0,
						InitID: ids[c], Payload: payloadFor(c, i, 200+rng.IntN(1500))})
					if err != nil && !isRingFull(err) {
						t.Fatalf("step %d: append: %v", step, err)
					}
				case op < 78:
					if err := r.Sync(); err != nil {
						t.Fatal(err)
					}
				case op < 84:
					if err := r.RefillReserve(); err != nil {
						t.Fatal(err)
					}
				case op < 90:
					e.clock.Advance(time.Duration(rng.IntN(20)) * time.Second)
					if err := r.Sweep(); err != nil {
						t.Fatal(err)
					}
				case op < 97:
					var hs []core.HoldRange
					for k := range rng.IntN(4) {
						c := cams[rng.IntN(len(cams))]
						from := t0.Add(time.Duration(rng.IntN(max(next[c], 1))) * time.Second)
						hs = append(hs, core.HoldRange{HoldID: fmt.Sprintf("h%d", k), Camera: c, From: from,
							To: from.Add(time.Duration(1+rng.IntN(30)) * time.Second), Until: e.clock.Now().Add(time.Hour)})
					}
					e.holds.set(hs...)
					r.observeHolds()
				default:
					reopen(rng.IntN(2) == 0)
				}
				checkBook(t, r)
			}
			checkErasuresUnique(t, e.er.list())
			if len(e.er.list()) == 0 {
				t.Fatal("nothing was erased: the test did not wrap")
			}
		})
	}
}

func isRingFull(err error) bool { return errors.Is(err, ErrRingFull) }

// A ring larger than one lease: a camera takes more blocks between two
// index commits than the lease holds (the append leases more itself), the
// process dies, and recovery finds every block taken, reading only the
// leased ones.
func TestRecoveryFindsBlocksTakenPastTheLease(t *testing.T) {
	e := newEnv(t)
	o := e.tinyOpts()
	o.Capacity, o.BlockSize = 512*4096, 4096
	r := mustOpen(t, o)
	id, _ := r.AppendInit("cam1", initFor("cam1"))
	appendSeq(t, r, e, "cam1", id, 0, 10, 1500)
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	leased := len(r.lease)
	r.mu.Unlock()
	// Two fragments a block: 3 leases' worth of blocks without a commit.
	n := 10 + 6*leased
	appendSeq(t, r, e, "cam1", id, 10, n, 1500)
	if err := r.SyncData(); err != nil {
		t.Fatal(err)
	}
	crash(r)
	r = mustOpen(t, o)
	defer r.Close()
	if refs := verifyAll(t, r, "cam1", 1500); len(refs) != n {
		t.Fatalf("%d fragments after the crash, want %d", len(refs), n)
	}
	checkBook(t, r)
	r.mu.Lock()
	leaseN, free := len(r.lease), r.free.len()
	r.mu.Unlock()
	if leaseN >= free || leaseN > 64 {
		t.Fatalf("lease of %d blocks with %d free: recovery would read them all", leaseN, free)
	}
}

// A reboot's downtime credited to older footage stays credited after a
// restart on the same boot (the credits are committed with the clock),
// and credits an index was not last written with are not trusted: an
// earlier release, which keeps none, may have committed since.
func TestRebootCreditSurvivesRestart(t *testing.T) {
	for _, other := range []bool{false, true} {
		t.Run(fmt.Sprintf("other-release-%v", other), func(t *testing.T) {
			e, o, r, sf := rebootRig(t)
			real := t0.Add(30*time.Second + 50*time.Minute) // off 50 min: cam1 still has 10 min
			r = rebootAt(t, e, &o, r, 50*time.Minute, real)
			e.clock.Advance(5 * time.Minute)
			sf.v.Store(true)
			if err := r.Sweep(); err != nil { // credits the 50 min
				t.Fatal(err)
			}
			if n := frags(t, r, "cam1"); n != 30 {
				t.Fatalf("real t0+56m: cam1 %d (want 30)", n)
			}
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			if other { // an earlier release commits the clock, without credits
				db, err := bolt.Open(e.dir+"/index.db", 0o600, nil)
				if err != nil {
					t.Fatal(err)
				}
				err = db.Update(func(tx *bolt.Tx) error {
					m := tx.Bucket(bktMeta)
					s, err := decodeClockState(m.Get([]byte("clock")))
					if err != nil {
						return err
					}
					s.E++
					return m.Put([]byte("clock"), s.encode())
				})
				db.Close()
				if err != nil {
					t.Fatal(err)
				}
			}
			r = mustOpen(t, o)
			defer r.Close()
			e.clock.Advance(5 * time.Minute) // real t0+61m
			if err := r.Sweep(); err != nil {
				t.Fatal(err)
			}
			want := 0
			if other {
				want = 30 // late by the downtime, never early
			}
			if n := frags(t, r, "cam1"); n != want {
				t.Fatalf("real t0+61m after a restart: cam1 %d fragments, want %d", n, want)
			}
			checkBook(t, r)
		})
	}
}
