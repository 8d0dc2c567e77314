package ring

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// index.db layout (bbolt):
//
//	meta:    "blockSize", "blocks" (u64 BE) – geometry check on reopen;
//	         "clock" – ring time at the last commit (clock.go);
//	         "clockPending" – a reboot's downtime not yet credited (clock.go)
//	blocks:  u32 BE block -> blockMeta
//	holds:   hold key -> wall Until i64 + ring-time deadline i64 [+ ring
//	         time it was fixed i64; absent in earlier releases] (holds.go)
//	damaged: camera u32 BE + start key -> end ns i64 + reason (damage.go)
//	cameras: name -> camera number u32, next seq u64, last init id u32
//	frags:   nested bucket per camera number (u32 BE); key = start ns (sign
//	         flipped, BE) + seq (BE) -> fragEntry
//	inits:   camera u32 BE + init id u32 BE -> init segment bytes
var (
	bktMeta    = []byte("meta")
	bktBlocks  = []byte("blocks")
	bktCameras = []byte("cameras")
	bktFrags   = []byte("frags")
	bktInits   = []byte("inits")
	bktHolds   = []byte("holds")
	bktDamaged = []byte("damaged")
)

type blockState uint8

const (
	stateFree blockState = iota
	stateOpen
	stateSealed
	stateErasing
)

func (s blockState) String() string {
	switch s {
	case stateFree:
		return "free"
	case stateOpen:
		return "open"
	case stateSealed:
		return "sealed"
	case stateErasing:
		return "erasing"
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// Erasure reasons, persisted with a block in state erasing so a redo after
// a crash reports the original reason.
const (
	reasonNone      uint8 = 0
	reasonRetention uint8 = 1
	reasonOverwrite uint8 = 2
)

func reasonString(r uint8) string {
	if r == reasonRetention {
		return "retention"
	}
	return "overwrite"
}

// blockMeta is one block's state, in memory for every block of the ring
// (5.3 million at 20 TB), so it holds no pointer (the garbage collector
// skips the whole table) and packs into 48 bytes. first/last are unix ns
// of the earliest fragment start and the latest fragment end; 0 when the
// block holds no fragment yet. The init ids its fragments reference are
// init0 and, in the rare block whose camera changed init mid-block,
// Ring.moreInits.
type blockMeta struct {
	gen   uint64
	first int64
	last  int64
	// lastE is the ring time (clock.go) of the block's last append, as
	// stamped: retention counts from it, never from the wall clock. A
	// reboot's downtime credited later is applied when it is read
	// (Ring.effE), so crediting never rewrites the table.
	lastE  int64
	used   uint32 // a block is at most 2 GiB (Options)
	camera uint32
	init0  uint32 // the first init id referenced, 0 if none
	state  blockState
	reason uint8
	// plain: the block holds version-1 (unencrypted) records written by an
	// earlier release; erasing it means zeroing it.
	plain bool
	flags metaFlags // in memory only
}

// metaFlags are a block's in-memory states; flagRun is also persisted.
type metaFlags uint8

const (
	// flagNoKey: an encrypted block whose key is missing from keys.dat;
	// its records read as damaged.
	flagNoKey metaFlags = 1 << iota
	// flagLegacy: decoded from the layout before ring time; lastE still
	// has to be derived (Open does).
	flagLegacy
	// flagMarked: the erasing state is committed to the index (erasure
	// step 1 done, or loaded as erasing). An erasing block without it
	// may still be indexed and must not be erased if a hold now covers it.
	flagMarked
	// flagHeld: a hold applied (book.go) covers this sealed block.
	flagHeld
	// flagCam: booked with its camera (book.go): counted in its bytes,
	// init references and, with footage, its tree.
	flagCam
	// flagRun: the block's fragments are one run by Coverage's rule,
	// each appended in start order within the gap tolerance of the one
	// before, all indexed, so its coverage is [first, last) without
	// reading them. Set at its first fragment, cleared by the first that
	// breaks the run and for entries recovery indexed or a failed sync
	// dropped. Persisted (metaRun); absent in blocks of earlier releases,
	// whose coverage is read from their fragments.
	flagRun
)

func (m blockMeta) hasFragments() bool { return m.last != 0 || m.first != 0 }
func (m blockMeta) noKey() bool        { return m.flags&flagNoKey != 0 }
func (m blockMeta) markedErasing() bool {
	return m.flags&flagMarked != 0
}
func (m blockMeta) held() bool { return m.flags&flagHeld != 0 }

func (m *blockMeta) setFlag(f metaFlags, on bool) {
	if on {
		m.flags |= f
	} else {
		m.flags &^= f
	}
}

// Bits of the block meta's flag byte. An earlier release reads only
// metaPlain, and writes metaRun as 0 (unknown: Coverage reads fragments).
const (
	metaPlain = 1 << 0
	metaRun   = 1 << 1
)

// encode is the index value of the block with the init ids inits.
func (m blockMeta) encode(inits []uint32) []byte {
	n := 44 + 4*len(inits)
	b := make([]byte, n+9)
	be := binary.BigEndian
	be.PutUint64(b[n:], uint64(m.lastE))
	if m.plain {
		b[n+8] |= metaPlain
	}
	if m.flags&flagRun != 0 {
		b[n+8] |= metaRun
	}
	b[0] = byte(m.state)
	b[1] = m.reason
	be.PutUint32(b[4:], m.camera)
	be.PutUint64(b[8:], m.gen)
	be.PutUint64(b[16:], uint64(m.used))
	be.PutUint64(b[24:], uint64(m.first))
	be.PutUint64(b[32:], uint64(m.last))
	be.PutUint32(b[40:], uint32(len(inits)))
	for i, id := range inits {
		be.PutUint32(b[44+4*i:], id)
	}
	return b
}

// decodeBlockMeta decodes an index value; the init ids beyond init0 are
// appended to more (nil when there are none, the usual case).
func decodeBlockMeta(b []byte) (m blockMeta, more []uint32, err error) {
	if len(b) < 44 {
		return blockMeta{}, nil, fmt.Errorf("%w: block meta of %d bytes", ErrCorrupt, len(b))
	}
	be := binary.BigEndian
	used := be.Uint64(b[16:])
	m = blockMeta{
		state:  blockState(b[0]),
		reason: b[1],
		camera: be.Uint32(b[4:]),
		gen:    be.Uint64(b[8:]),
		used:   uint32(used),
		first:  int64(be.Uint64(b[24:])),
		last:   int64(be.Uint64(b[32:])),
	}
	n := int(be.Uint32(b[40:]))
	if m.state > stateErasing || n > (len(b)-44)/4 || used > 1<<31 {
		return blockMeta{}, nil, fmt.Errorf("%w: block meta", ErrCorrupt)
	}
	for i := range n {
		id := be.Uint32(b[44+4*i:])
		switch {
		case id != 0 && (m.init0 == 0 || m.init0 == id):
			m.init0 = id
		case !slices.Contains(more, id):
			more = append(more, id)
		}
	}
	switch rest := b[44+4*n:]; len(rest) {
	case 0:
		// Written before ring time and encryption: its records are
		// plaintext, and lastE is derived from the wall clock on open.
		m.flags |= flagLegacy
		m.plain = m.state != stateFree
	case 9:
		m.lastE = int64(be.Uint64(rest))
		m.plain = rest[8]&metaPlain != 0
		if rest[8]&metaRun != 0 {
			m.flags |= flagRun
		}
	default:
		return blockMeta{}, nil, fmt.Errorf("%w: block meta tail of %d bytes", ErrCorrupt, len(rest))
	}
	m.setFlag(flagMarked, m.state == stateErasing)
	return m, more, nil
}

// fragBucket is camera cam's fragment bucket, for writing (nil if it has
// none). Its keys are appended in order (start time, then sequence) and
// erased from the front, so its pages are split full: at bbolt's default
// fill of one half every split left a half-empty page behind for good, and
// index.db was twice what it held (8.1 GB for 3.9 GB of entries at 64
// cameras and 7 days). FillPercent is not persisted: set on every handle.
// Put entries with putFrag.
//
// The other buckets keep the default: blocks is written full when created
// (putNewBlocks) and then updated in place, where a value that grows (a
// second init id) splits a page in the middle of the key range; inits,
// damaged and holds are keyed by camera or hold, not by time, and take a
// few keys a day; meta and cameras are a few keys.
func fragBucket(tx *bolt.Tx, cam uint32) *bolt.Bucket {
	b := tx.Bucket(bktFrags).Bucket(u32key(cam))
	// bbolt hands out the same handle for the rest of a transaction: one
	// putFrag lowered stays lowered.
	if b != nil && b.FillPercent != outOfOrderFill {
		b.FillPercent = 1
	}
	return b
}

// outOfOrderFill is bbolt's default half fill, set apart from it by a
// hair so fragBucket can tell a handle putFrag lowered in this
// transaction from a fresh one (both would read 0.5).
const outOfOrderFill = bolt.DefaultFillPercent + 0.001

// putFrag puts a fragment entry into bucket b (from fragBucket). A key
// that does not sort after the bucket's last one (timestamps that went
// back with the wall clock, interleaving with footage already indexed)
// goes into a full page in the middle: filling pages full there would
// leave a near-empty page per insert, so the bucket is split at bbolt's
// default fill for the rest of this transaction.
func putFrag(b *bolt.Bucket, key, val []byte) error {
	if b.FillPercent != outOfOrderFill {
		if last, _ := b.Cursor().Last(); last != nil && bytes.Compare(key, last) <= 0 {
			b.FillPercent = outOfOrderFill
		}
	}
	return b.Put(key, val)
}

func u32key(v uint32) []byte {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return b[:]
}

func u64bytes(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

// timeKey sorts signed nanoseconds bytewise by flipping the sign bit.
func timeKey(ns int64, seq uint64) []byte {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:], uint64(ns)^(1<<63))
	binary.BigEndian.PutUint64(b[8:], seq)
	return b[:]
}

func keyStart(k []byte) int64 { return int64(binary.BigEndian.Uint64(k) ^ (1 << 63)) }

// fragEntry is one fragment's index value: 40 bytes, or 72 as written
// by earlier releases, which also kept a SHA-256 of the plaintext (bytes
// 32–63, the generation after it). The record's GCM tags, under a key of
// the block's generation and with the header as additional data, already
// prove a read returns the bytes written for that header, and the read
// checks the header against this entry: the hash cost 16 % of the
// recorder's CPU and 32 of every entry's bytes for nothing more. An old
// entry's hash is still checked.
type fragEntry struct {
	block  uint32
	offset int64 // record start within the block
	length uint32
	dur    int64
	flags  uint16
	initID uint32
	gen    uint64
	sha    [32]byte // only in an earlier release's entry (hasSHA)
	hasSHA bool
}

const (
	fragEntrySize    = 40
	fragEntrySizeOld = 72
)

// encode writes the 40-byte form (an entry decoded from the old form
// keeps its hash only in memory; entries are never rewritten).
func (e fragEntry) encode() []byte {
	b := make([]byte, fragEntrySize)
	be := binary.BigEndian
	be.PutUint32(b[0:], e.block)
	be.PutUint64(b[4:], uint64(e.offset))
	be.PutUint32(b[12:], e.length)
	be.PutUint64(b[16:], uint64(e.dur))
	be.PutUint16(b[24:], e.flags)
	be.PutUint32(b[28:], e.initID)
	be.PutUint64(b[32:], e.gen)
	return b
}

func decodeFragEntry(b []byte) (fragEntry, error) {
	if len(b) != fragEntrySize && len(b) != fragEntrySizeOld {
		return fragEntry{}, fmt.Errorf("%w: fragment entry of %d bytes", ErrCorrupt, len(b))
	}
	be := binary.BigEndian
	e := fragEntry{
		block:  be.Uint32(b[0:]),
		offset: int64(be.Uint64(b[4:])),
		length: be.Uint32(b[12:]),
		dur:    int64(be.Uint64(b[16:])),
		flags:  be.Uint16(b[24:]),
		initID: be.Uint32(b[28:]),
	}
	if len(b) == fragEntrySizeOld {
		copy(e.sha[:], b[32:64])
		e.hasSHA = true
		e.gen = be.Uint64(b[64:])
	} else {
		e.gen = be.Uint64(b[32:])
	}
	return e, nil
}

// cameraRec is the cameras bucket value.
type cameraRec struct {
	num      uint32
	nextSeq  uint64
	lastInit uint32 // the current init
	maxInit  uint32 // the highest init id ever given; a new init gets maxInit+1
}

func (c cameraRec) encode() []byte {
	b := make([]byte, 20)
	binary.BigEndian.PutUint32(b[0:], c.num)
	binary.BigEndian.PutUint64(b[4:], c.nextSeq)
	binary.BigEndian.PutUint32(b[12:], c.lastInit)
	binary.BigEndian.PutUint32(b[16:], max(c.maxInit, c.lastInit))
	return b
}

func decodeCameraRec(b []byte) (cameraRec, error) {
	if len(b) != 16 && len(b) != 20 { // 16: written before maxInit existed
		return cameraRec{}, fmt.Errorf("%w: camera record", ErrCorrupt)
	}
	c := cameraRec{
		num:      binary.BigEndian.Uint32(b[0:]),
		nextSeq:  binary.BigEndian.Uint64(b[4:]),
		lastInit: binary.BigEndian.Uint32(b[12:]),
	}
	c.maxInit = c.lastInit
	if len(b) == 20 {
		c.maxInit = max(c.maxInit, binary.BigEndian.Uint32(b[16:]))
	}
	return c, nil
}

func initKey(cam, id uint32) []byte {
	var b [8]byte
	binary.BigEndian.PutUint32(b[:], cam)
	binary.BigEndian.PutUint32(b[4:], id)
	return b[:]
}
