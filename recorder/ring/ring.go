package ring

import (
	"crypto/cipher"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/btree"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"

	"mimamori/boltmap"
	"mimamori/core"
)

// Ring is the overwrite ring. All methods are safe for concurrent use;
// appends of different cameras run in parallel.
//
// Lock order: camera.mu -> syncMu -> regMu -> keyMu -> mu. statsMu,
// io.mu and damageMu are leaves. No lock but camera.mu, syncMu, regMu and
// keyMu is ever held across disk I/O, so Stats never waits for the disk.
type Ring struct {
	o     Options
	log   *slog.Logger
	f     *os.File
	fd    int
	db    *bolt.DB
	keys  *keyFile
	clock *ringClock
	// freshIndex: Open created index.db (a new ring, or one whose index was lost)
	freshIndex bool
	bs         int64
	nblocks    int
	zeros      []byte // read-only zero buffer for erasing plaintext (version 1) blocks

	regMu  sync.Mutex   // serializes camera registration and init commits
	syncMu sync.Mutex   // serializes Sync with erasures and sweeps (index txs that must not interleave)
	keyMu  sync.RWMutex // keys.dat slots: writers erase, readers decrypt

	mu        sync.Mutex // ring lock: everything below
	closed    bool
	blocks    []blockMeta         // one per block, pointer-free (index.go)
	moreInits map[uint32][]uint32 // init ids of a block beyond its init0 (rare)
	dirty     map[uint32]struct{} // blocks whose meta changed since the last commit
	pending   []pendingEntry      // written records not yet indexed
	camDirty  map[uint32]struct{}
	cams      map[string]*camera
	camByNum  map[uint32]*camera
	deadlines map[string]holdDeadline // holds.go
	dlDirty   map[string]struct{}     // deadlines not yet committed
	dlSeen    map[string]int64        // ring time core last handed each hold over (memory only)

	// Bookkeeping kept as blocks change (book.go), so no path walks the
	// block table.
	free, avail, erasing *blockSet
	order                *btree.BTreeG[uint32] // sealed, unheld, in erasure order
	usedBytes            int64                 // used bytes of every block not free
	heldN                int                   // sealed (and chosen) blocks an applied hold covers
	keyless              int                   // blocks not free whose key is missing
	holdsApplied         map[holdIdent]int     // the holds the held flags follow
	holdsByCam           map[string][]holdSpan
	probeFirst           int64 // the camera trees' search key (book.go)
	lease                map[uint32]struct{}
	leaseOK              bool // Open: the stored lease is this release's and current
	credits              []creditEntry
	creditFrom           []int64 // suffix sums of credits
	creditsDirty         bool    // credits not yet committed

	written         atomic.Int64 // bytes pwritten, for the write rate
	dataSynced      atomic.Int64 // r.written as of the last successful data sync
	inlineErasures  atomic.Uint64
	reserveErasures atomic.Uint64
	refill          chan struct{} // asks Run to refill the reserve (reserve.go)
	scratch         sync.Pool     // *[]byte sealing buffers (append.go)
	io              ioTracker     // in-flight disk operations, for the stall alert (alerts.go)
	events          chan eventReq // to the event log, off every lock (alerts.go)
	eventsDropped   atomic.Uint64

	damageMu sync.Mutex
	damage   damageLog // damage.go

	// failEraseMark, for tests, makes erasure step 1 (the index tx) fail.
	failEraseMark func(b uint32) error
	// failDataSync, for tests, makes fdatasync of ring.dat fail.
	failDataSync func() error
	// unsyncedUpTo is r.written when an fdatasync of ring.dat last failed:
	// records written up to there may never have reached the disk, and a
	// later fdatasync succeeding does not say they did (Linux reports a
	// writeback error once), so they are never indexed (sync.go).
	unsyncedUpTo atomic.Int64

	statsMu   sync.Mutex
	fsyncLat  [64]time.Duration
	fsyncN    int
	fsyncMax  time.Duration
	fsyncHist core.Histogram
	erased    map[string]core.ErasureCount
	writeErrs uint64
	lastErr   string
	lastErrAt time.Time
	// Damaged index pages met by a transaction (index_guard.go): how
	// many, the first's time and panic.
	indexFaults   uint64
	indexFaultAt  time.Time
	indexFaultMsg string
	opening       bool                    // set by Open until it returns (Open is alone with the ring)
	errLog        map[string]*errLogState // per operation, for logging by rate
	noSpaceAt     time.Time
	rate          float64
	rateAt        time.Time
	rateBytes     int64
	diskFree      int64
	fsType        int64
}

type pendingEntry struct {
	cam   uint32
	block uint32
	key   []byte
	val   []byte
	w     int64 // Ring.written once the record was written
}

// camera is the per-camera state. mu serializes this camera's appends; the
// other fields are guarded by Ring.mu.
type camera struct {
	mu sync.Mutex
	// seal is the record sealer and aead the open block's cipher, guarded
	// by mu (the open block changes only under mu).
	seal      sealer
	aead      cipher.AEAD
	aeadBlock int64
	aeadGen   uint64

	name         string
	num          uint32
	open         int64 // open block or -1
	openedE      int64 // ring time of the open block's first record: the sweeper seals an idle camera's block by it
	nextSeq      uint64
	lastInit     uint32
	maxInit      uint32 // highest init id given (ids are never reused)
	initBySHA    map[[32]byte]uint32
	inits        map[uint32]struct{}
	rate         rateWindow
	starvedSince time.Time // wall time the camera first found no block; zero when it has one

	// Bookkeeping (book.go).
	tree      *btree.BTreeG[uint32] // its blocks with footage, by footage start
	bytes     int64                 // used bytes of its open and sealed blocks
	maxExtent int64                 // the longest footage span of a block (tree searches start this early)
	// runStart, runDur: the start and duration of the camera's last
	// fragment this run, for the open block's flagRun (under r.mu).
	runStart, runDur int64
	initRefs         map[uint32]int32 // blocks referencing each init id
}

// rateWindow estimates a camera's byte rate from its recent fragments.
type rateWindow struct {
	bytes [32]int64
	dur   [32]int64
	n     int
}

func (w *rateWindow) add(bytes, dur int64) {
	i := w.n % len(w.bytes)
	w.bytes[i], w.dur[i] = bytes, dur
	w.n++
}

// bytesPerSec returns 0 when nothing is known.
func (w *rateWindow) bytesPerSec() float64 {
	var b, d int64
	for i := range min(w.n, len(w.bytes)) {
		b += w.bytes[i]
		d += w.dur[i]
	}
	if d <= 0 {
		return 0
	}
	return float64(b) / (float64(d) / float64(time.Second))
}

// Open opens or creates the ring in o.Dir and recovers it: records written
// after the last index commit are indexed, every block left open is sealed
// (appends resume in fresh blocks), and interrupted erasures are finished.
//
// A new ring is refused before anything is written if the file system has
// less free space than it needs, and if creating it fails anyway (the
// preallocation, say) nothing it created is left behind.
func Open(o Options) (*Ring, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	if o.Capacity/o.BlockSize >= int64(probe) {
		return nil, fmt.Errorf("%w: Capacity %d holds more blocks than the index can number", ErrInvalid, o.Capacity)
	}
	r := &Ring{
		o:         o,
		log:       o.Logger.With("component", "ring"),
		bs:        o.BlockSize,
		nblocks:   int(o.Capacity / o.BlockSize),
		dirty:     map[uint32]struct{}{},
		camDirty:  map[uint32]struct{}{},
		cams:      map[string]*camera{},
		camByNum:  map[uint32]*camera{},
		deadlines: map[string]holdDeadline{},
		dlDirty:   map[string]struct{}{},
		dlSeen:    map[string]int64{},
		refill:    make(chan struct{}, 1),
		events:    make(chan eventReq, 256),
	}
	r.fsyncHist = core.NewHistogram(core.FsyncBuckets)
	r.initBook()
	r.zeros = make([]byte, min(r.bs, 1<<20))
	r.scratch.New = func() any { b := make([]byte, 0, scratchSize); return &b }
	created, err := r.checkSpace()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("ring: %w", err)
	}
	fail := func(err error) (*Ring, error) {
		r.abandon()
		if created {
			// Nothing of a ring that never came to be may stay behind: a
			// partial ring.dat would fill the disk and block a retry.
			for _, name := range []string{"ring.dat", "index.db", "keys.dat"} {
				if rerr := os.Remove(filepath.Join(o.Dir, name)); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
					r.log.Error("cannot remove a file of the failed ring", "file", name, "err", rerr)
				}
			}
			syncDir(o.Dir)
		}
		return nil, err
	}
	if err := r.openData(); err != nil {
		return fail(err)
	}
	db, err := bolt.Open(filepath.Join(o.Dir, "index.db"), 0o600, &bolt.Options{Timeout: time.Second, NoSync: o.NoSync})
	if err != nil {
		return fail(fmt.Errorf("ring: open index: %w", err))
	}
	r.db = db
	if err := checkIndex(db); err != nil {
		return fail(err)
	}
	r.releaseIndexPages()
	r.opening = true // a damaged page met until Open returns fails Open
	saved, err := r.load()
	if err != nil {
		return fail(err)
	}
	if err := r.preallocate(); err != nil {
		return fail(err)
	}
	r.clock = newRingClock(o.Now, o.Mono, o.ClockSynced, o.BootID, saved)
	if r.clock.creditPending() {
		r.log.Info("started after a reboot: the downtime is credited to retention and holds once the wall clock is synchronized or has run an hour without a step")
	}
	if err := r.openKeys(); err != nil {
		return fail(err)
	}
	if err := r.recover(); err != nil {
		return fail(err)
	}
	r.rateAt = time.Now()
	r.refreshDiskFree()
	r.releaseIndexPages()
	r.opening = false
	return r, nil
}

// releaseIndexPages takes the pages of index.db that Open read (checking
// every key, loading every block) out of the process's mapping: they stay
// in the page cache and fault back in when used. At 5.3 million blocks
// that is about a gigabyte of RSS otherwise held until memory runs short.
//
// Run does it again after every sweep round: erasing reads old index pages
// (a fragment's entries are deleted in the pages that hold them), which
// otherwise stay resident — at 64 cameras with 1-s fragments RSS swung
// between 0.5 and 1.2 GB of index.db pages (the soak, 2.8 GB index).
func (r *Ring) releaseIndexPages() { boltmap.Release(r.db) }

func (r *Ring) size() int64 { return int64(r.nblocks) * r.bs }

// spaceMargin is what a new ring keeps free beside ring.dat and keys.dat
// for index.db and core's database to grow into.
const spaceMargin = 64 << 20

// checkSpace refuses a ring the file system cannot hold, before anything
// is created. It reports whether this Open creates the ring.
func (r *Ring) checkSpace() (bool, error) {
	path := filepath.Join(r.o.Dir, "ring.dat")
	var have int64
	fi, err := os.Stat(path)
	switch {
	case err == nil:
		var st unix.Stat_t
		if unix.Stat(path, &st) == nil {
			have = st.Blocks * 512
		}
		if fi.Size() == r.size() && have >= r.size() {
			return false, nil // an existing, fully allocated ring
		}
	case !errors.Is(err, os.ErrNotExist):
		return false, fmt.Errorf("ring: %w", err)
	}
	created := err != nil
	dir := r.o.Dir
	for { // the directory may not exist yet: ask its nearest ancestor
		if _, err := os.Stat(dir); err == nil || filepath.Dir(dir) == dir {
			break
		}
		dir = filepath.Dir(dir)
	}
	var free int64
	if r.o.freeSpace != nil {
		var err error
		if free, err = r.o.freeSpace(dir); err != nil {
			return created, err
		}
	} else {
		var st unix.Statfs_t
		if err := unix.Statfs(dir, &st); err != nil {
			return created, fmt.Errorf("ring: free space of %s: %w", dir, err)
		}
		free = int64(st.Bavail) * int64(st.Bsize)
	}
	need := r.size() - have + int64(r.nblocks)*slotSize + spaceMargin
	if free < need {
		return created, fmt.Errorf("%w: storage.capacity %d bytes needs %d more bytes in %s, %d are free",
			ErrNoSpace, r.size(), need, r.o.Dir, free)
	}
	return created, nil
}

// openData opens ring.dat.
func (r *Ring) openData() error {
	path := filepath.Join(r.o.Dir, "ring.dat")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("ring: %w", err)
	}
	r.f, r.fd = f, int(f.Fd())
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("ring: %w", err)
	}
	if fi.Size() > r.size() {
		return fmt.Errorf("%w: ring.dat is %d bytes, options give %d", ErrGeometry, fi.Size(), r.size())
	}
	return nil
}

// preallocate grows ring.dat to the ring size once the index agreed.
func (r *Ring) preallocate() error {
	f := r.f
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("ring: %w", err)
	}
	if fi.Size() == r.size() {
		return nil
	}
	if err := r.o.fallocate(r.fd, r.size()); err != nil {
		if errors.Is(err, unix.ENOSPC) {
			return fmt.Errorf("%w: preallocate ring.dat: %v", ErrNoSpace, err)
		}
		// Without fallocate, write the zeros ourselves so the space is
		// really taken now rather than failing with ENOSPC mid-recording.
		r.log.Warn("fallocate failed; writing zeros instead", "err", err)
		for off := fi.Size(); off < r.size(); {
			n := min(int64(len(r.zeros)), r.size()-off)
			if _, err := f.WriteAt(r.zeros[:n], off); err != nil {
				return fmt.Errorf("ring: preallocate ring.dat: %w", err)
			}
			off += n
		}
	}
	if err := unix.Fsync(r.fd); err != nil {
		return fmt.Errorf("ring: sync ring.dat: %w", err)
	}
	syncDir(r.o.Dir) // make the new file's directory entry durable
	return nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// checkIndex reads, at Open, what of index.db the load does not: each
// camera's fragment bucket at both ends, the pages erasure and appends
// touch next. load reads every other bucket (block metas, cameras, inits,
// holds, damage), guarded. The middle of the fragment buckets (tens of
// millions of entries, 5 s to read at 20 TB) is read only by queries and
// erasure, whose transactions are guarded too (index_guard.go): a damaged
// page there fails that operation, not the process.
func checkIndex(db *bolt.DB) (err error) {
	prev := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(prev)
		if x := recover(); x != nil {
			err = indexStartError(x)
		}
	}()
	return db.View(func(tx *bolt.Tx) error {
		frags := tx.Bucket(bktFrags)
		if frags == nil {
			return nil
		}
		return frags.ForEachBucket(func(k []byte) error {
			if b := frags.Bucket(k); b != nil {
				c := b.Cursor()
				c.First()
				c.Last()
			}
			return nil
		})
	})
}

// indexStartError is the error of an Open that met a damaged index page.
func indexStartError(x any) error {
	return fmt.Errorf("%w: index.db is damaged (%v); recording cannot start. %s", ErrCorrupt, x, indexDamageAdvice)
}

// load creates or checks the index and reads block, camera, hold-deadline
// and clock state. It returns the persisted clock state, if any.
func (r *Ring) load() (*clockState, error) {
	r.blocks = make([]blockMeta, r.nblocks)
	err := r.update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bktMeta, bktBlocks, bktCameras, bktFrags, bktInits, bktHolds, bktDamaged} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bktMeta)
		if v := meta.Get([]byte("blockSize")); v != nil {
			bs, nb := beU64(v), beU64(meta.Get([]byte("blocks")))
			if int64(bs) != r.bs || int(nb) != r.nblocks {
				return fmt.Errorf("%w: index has %d blocks of %d bytes, options give %d of %d",
					ErrGeometry, nb, bs, r.nblocks, r.bs)
			}
		} else {
			r.freshIndex = true
			if r.nblocks <= createChunk { // small enough for this transaction
				return r.putNewBlocks(tx, 0, r.nblocks, newGenBase(), true)
			}
		}
		return nil
	})
	if err == nil && r.freshIndex && r.nblocks > createChunk {
		err = r.createBlocks()
	}
	if err != nil {
		return nil, err
	}
	var saved *clockState
	err = r.view(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bktMeta)
		if v := meta.Get([]byte("clock")); v != nil {
			s, err := decodeClockState(v)
			if err != nil {
				return err
			}
			if v := meta.Get([]byte("clockPending")); v != nil {
				if s.Credit, err = decodePendingCredit(v); err != nil {
					return err
				}
			}
			saved = &s
		}
		lease, leaseOK, credits, err := loadState(meta, saved)
		if err != nil {
			return err
		}
		// Under a new index no block can have been taken yet.
		r.leaseOK = leaseOK || r.freshIndex
		for _, b := range lease {
			if int(b) < r.nblocks {
				r.lease[b] = struct{}{}
			}
		}
		r.setCredits(credits)
		// One pass in key order (big-endian block numbers).
		cur := tx.Bucket(bktBlocks).Cursor()
		i := 0
		for k, v := cur.First(); k != nil; k, v = cur.Next() {
			if len(k) != 4 || int(beU32(k)) != i || i >= r.nblocks {
				return fmt.Errorf("%w: index blocks: key %x where block %d was due", ErrCorrupt, k, i)
			}
			m, more, err := decodeBlockMeta(v)
			if err != nil {
				return fmt.Errorf("block %d: %w", i, err)
			}
			r.blocks[i] = m
			if more != nil {
				r.moreInits[uint32(i)] = more
			}
			i++
		}
		if i != r.nblocks {
			return fmt.Errorf("%w: index has %d of %d block metas", ErrCorrupt, i, r.nblocks)
		}
		if err := r.loadDeadlines(tx); err != nil {
			return err
		}
		if err := r.loadDamage(tx); err != nil {
			return err
		}
		inits := tx.Bucket(bktInits)
		return tx.Bucket(bktCameras).ForEach(func(k, v []byte) error {
			cr, err := decodeCameraRec(v)
			if err != nil {
				return err
			}
			c := newCamera(string(k), cr)
			prefix := u32key(cr.num)
			cur := inits.Cursor()
			for ik, iv := cur.Seek(prefix); ik != nil && string(ik[:4]) == string(prefix); ik, iv = cur.Next() {
				id := beU32(ik[4:])
				c.inits[id] = struct{}{}
				c.maxInit = max(c.maxInit, id)
				c.initBySHA[sha256.Sum256(iv)] = id
			}
			r.cams[c.name] = c
			r.camByNum[c.num] = c
			return nil
		})
	})
	return saved, err
}

// createChunk bounds the block metas a new index writes in one
// transaction: one for 5.3 million blocks would hold about 700 MB of
// bbolt nodes.
const createChunk = 1 << 18

// newGenBase is a random generation base for a new index: records left
// in ring.dat by an earlier index (its generations) can never validate.
func newGenBase() uint64 { return uint64(rand.Uint32()|1) << 32 }

// createBlocks writes a new index's block metas, every block free, in
// transactions of createChunk, and the geometry with the last: until it
// is written the index counts as new, so a crash midway starts over.
func (r *Ring) createBlocks() error {
	base := newGenBase()
	for lo := 0; lo < r.nblocks; lo += createChunk {
		hi := min(lo+createChunk, r.nblocks)
		err := r.update(func(tx *bolt.Tx) error { return r.putNewBlocks(tx, lo, hi, base, hi == r.nblocks) })
		if err != nil {
			return err
		}
	}
	return nil
}

// putNewBlocks writes blocks [lo, hi) free with generation base, and the
// geometry if last.
func (r *Ring) putNewBlocks(tx *bolt.Tx, lo, hi int, base uint64, last bool) error {
	bk := tx.Bucket(bktBlocks)
	bk.FillPercent = 1 // written in key order: full pages, half the file
	v := blockMeta{state: stateFree, gen: base}.encode(nil)
	for i := lo; i < hi; i++ {
		if err := bk.Put(u32key(uint32(i)), v); err != nil {
			return err
		}
	}
	if !last {
		return nil
	}
	meta := tx.Bucket(bktMeta)
	if err := meta.Put([]byte("blockSize"), u64bytes(uint64(r.bs))); err != nil {
		return err
	}
	return meta.Put([]byte("blocks"), u64bytes(uint64(r.nblocks)))
}

// openKeys opens (or creates) keys.dat and makes sure every free block
// has its next key ready. A block that holds footage but whose key is
// gone reads as damaged; a block from before encryption is "plain". Keys
// found missing (keys.dat lost, cut short or corrupt) are one log line,
// one ledgered event and an alert until those blocks are erased.
func (r *Ring) openKeys() error {
	kf, resized, err := openKeyFile(r.o.Dir, r.nblocks, true)
	if err != nil {
		return err
	}
	r.keys = kf
	kf.noSync = r.o.NoSync
	// One pass over keys.dat: a free block without its next key gets one,
	// a block holding footage without its key is marked keyless.
	old := 0
	var lost []uint32
	nlost := 0
	renewed, err := kf.scan(func(b uint32, s slotKey) (bool, uint64) {
		if s.ok {
			old++
		}
		m := &r.blocks[b]
		if s.ok && s.gen == m.gen {
			return false, 0
		}
		switch {
		case m.state == stateFree:
			return true, m.gen
		case !m.plain && m.state != stateErasing:
			m.flags |= flagNoKey
			if nlost++; len(lost) < 8 {
				lost = append(lost, b)
			}
		}
		return false, 0
	})
	if err != nil {
		return r.noteWriteError("write keys.dat", err)
	}
	if r.freshIndex && old > 0 {
		// A new index over a keys.dat that holds keys: index.db was lost or
		// moved aside. The old footage's keys were replaced above, so it
		// can no longer be read; say so once.
		detail := fmt.Sprintf("index.db was created anew over a ring whose keys.dat held %d keys: "+
			"the footage of the earlier index can no longer be read", old)
		r.log.Error("new index over an existing ring; its footage is unreadable", "keys_replaced", old)
		r.event("", "damaged", map[string]string{"reason": detail, "blocks": fmt.Sprint(old)})
	}
	if nlost > 0 || resized {
		detail := fmt.Sprintf("keys.dat lacks the keys of %d blocks holding footage; that footage cannot be read", nlost)
		r.log.Error("block keys missing from keys.dat; their footage reads as damaged",
			"blocks", nlost, "first", lost, "keys_dat_resized", resized)
		r.event("", "damaged", map[string]string{"reason": detail, "blocks": fmt.Sprint(nlost)})
	}
	if renewed == 0 && !resized {
		return nil
	}
	if err := kf.sync(); err != nil {
		return r.noteWriteError("sync keys.dat", err)
	}
	syncDir(r.o.Dir)
	return nil
}

// aeadFor returns block b's cipher for generation gen, or nil when the key
// is missing.
func (r *Ring) aeadFor(b uint32, gen uint64) cipher.AEAD {
	r.keyMu.RLock()
	defer r.keyMu.RUnlock()
	if r.keys == nil {
		return nil
	}
	k, ok := r.keys.keyFor(b, gen)
	if !ok {
		return nil
	}
	a, err := newAEAD(k)
	clear(k[:])
	if err != nil {
		return nil
	}
	return a
}

func newCamera(name string, cr cameraRec) *camera {
	return &camera{
		name:      name,
		num:       cr.num,
		open:      -1,
		aeadBlock: -1,
		nextSeq:   cr.nextSeq,
		lastInit:  cr.lastInit,
		maxInit:   max(cr.maxInit, cr.lastInit),
		initBySHA: map[[32]byte]uint32{},
		inits:     map[uint32]struct{}{},
		initRefs:  map[uint32]int32{},
	}
}

// Close syncs and indexes everything written, then closes the files.
func (r *Ring) Close() error {
	r.syncMu.Lock()
	defer r.syncMu.Unlock()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrClosed
	}
	r.mu.Unlock()
	err := r.syncLocked()
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.keyMu.Lock()
	kerr := r.keys.close()
	r.keyMu.Unlock()
	return errors.Join(err, r.db.Close(), r.f.Close(), kerr)
}

// abandon closes the files without syncing or committing: a crash, as far
// as the ring's own state is concerned.
func (r *Ring) abandon() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	if r.db != nil {
		r.db.Close()
	}
	if r.f != nil {
		r.f.Close()
	}
	r.keyMu.Lock()
	if r.keys != nil {
		r.keys.close()
	}
	r.keyMu.Unlock()
}

func (r *Ring) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// errLogEvery: a failure is logged when it first happens, then at most
// once per this interval with the count since. A failing disk fails every
// fragment of every camera (64 a second), and the loops retry every
// second; the counts are in Stats and the alerts, not in the log.
const errLogEvery = time.Minute

type errLogState struct {
	at         time.Time // last logged
	suppressed uint64    // occurrences since, not logged
}

// errorByRate logs msg at error level unless it was logged less than
// errLogEvery ago under the same key (msg, or msg and an operation).
func (r *Ring) errorByRate(key, msg string, args ...any) {
	now := time.Now()
	r.statsMu.Lock()
	if r.errLog == nil {
		r.errLog = map[string]*errLogState{}
	}
	ls := r.errLog[key]
	if ls == nil {
		ls = &errLogState{}
		r.errLog[key] = ls
	}
	logIt := ls.at.IsZero() || now.Sub(ls.at) >= errLogEvery
	var repeated uint64
	if logIt {
		repeated, ls.at, ls.suppressed = ls.suppressed, now, 0
	} else {
		ls.suppressed++
	}
	r.statsMu.Unlock()
	if logIt {
		if repeated > 0 {
			args = append(args, "repeated_since_last_logged", repeated)
		}
		r.log.Error(msg, args...)
	}
}

// noteWriteError counts an I/O failure for Stats, logs it by rate, and
// returns err.
func (r *Ring) noteWriteError(what string, err error) error {
	now := time.Now()
	r.statsMu.Lock()
	r.writeErrs++
	r.lastErr = fmt.Sprintf("%s: %v", what, err)
	r.lastErrAt = now
	if errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT) {
		r.noSpaceAt = now
	}
	r.statsMu.Unlock()
	r.errorByRate("write error: "+what, "ring write error", "op", what, "err", err)
	return fmt.Errorf("ring: %s: %w", what, err)
}

// fdatasync syncs ring.dat and records the latency.
func (r *Ring) fdatasync() error {
	if r.o.NoSync {
		return nil
	}
	done := r.io.begin()
	t0 := time.Now()
	err := unix.Fdatasync(r.fd)
	if r.failDataSync != nil && err == nil {
		err = r.failDataSync()
	}
	d := time.Since(t0)
	done()
	if err != nil {
		r.unsyncedUpTo.Store(r.written.Load())
	}
	r.statsMu.Lock()
	r.fsyncLat[r.fsyncN%len(r.fsyncLat)] = d
	r.fsyncN++
	r.fsyncMax = max(r.fsyncMax, d)
	r.fsyncHist.Observe(d)
	r.statsMu.Unlock()
	return err
}

// zeroPad pads records to 8 bytes; read-only.
var zeroPad [8]byte

// writeAt writes the pieces contiguously at off with pwritev, straight
// from the callers' buffers.
func (r *Ring) writeAt(off int64, parts ...[]byte) error {
	rc, err := r.f.SyscallConn()
	if err != nil {
		return err
	}
	iov := make([][]byte, 0, len(parts))
	for _, p := range parts {
		if len(p) > 0 {
			iov = append(iov, p)
		}
	}
	done := r.io.begin()
	defer done()
	var werr error
	cerr := rc.Write(func(fd uintptr) bool {
		for len(iov) > 0 {
			n, err := unix.Pwritev(int(fd), iov, off)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				werr = err
				return true
			}
			if n == 0 {
				werr = io.ErrShortWrite
				return true
			}
			off += int64(n)
			for n > 0 { // drop what was written; a short write resumes mid-piece
				if n >= len(iov[0]) {
					n -= len(iov[0])
					iov = iov[1:]
				} else {
					iov[0] = iov[0][n:]
					n = 0
				}
			}
		}
		return true
	})
	return errors.Join(cerr, werr)
}

// zeroRange overwrites [off, off+n) of ring.dat with zeros (no sync).
func (r *Ring) zeroRange(off, n int64) error {
	done := r.io.begin()
	defer done()
	for n > 0 {
		c := min(n, int64(len(r.zeros)))
		if _, err := r.f.WriteAt(r.zeros[:c], off); err != nil {
			return err
		}
		off += c
		n -= c
	}
	return nil
}

func (r *Ring) readAt(b []byte, off int64) error {
	done := r.io.begin()
	defer done()
	_, err := r.f.ReadAt(b, off)
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}

func (r *Ring) refreshDiskFree() {
	var st unix.Statfs_t
	if err := unix.Fstatfs(r.fd, &st); err != nil {
		return
	}
	r.statsMu.Lock()
	r.diskFree = int64(st.Bavail) * int64(st.Bsize)
	r.fsType = int64(st.Type)
	r.statsMu.Unlock()
}

func beU64(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
		uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
}

func beU32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}
