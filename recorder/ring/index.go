package ring

import (
	"encoding/binary"
	"fmt"
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

// blockMeta is one block's state. first/last are unix ns of the earliest
// fragment start and the latest fragment end; 0 when the block holds no
// fragment yet.
type blockMeta struct {
	state  blockState
	reason uint8
	camera uint32
	gen    uint64
	used   int64
	first  int64
	last   int64
	inits  []uint32 // init ids referenced by fragments in this block
	// lastE is the ring time (clock.go) of the block's last append:
	// retention counts from it, never from the wall clock.
	lastE int64
	// plain: the block holds version-1 (unencrypted) records written by an
	// earlier release; erasing it means zeroing it.
	plain bool

	// openedE is the ring time of the block's first record, in memory
	// only: the sweeper seals blocks of idle cameras by it.
	openedE int64
	// noKey, in memory only: an encrypted block whose key is missing from
	// keys.dat; its records read as damaged.
	noKey bool
	// legacy, in memory only: decoded from the layout before ring time;
	// lastE still has to be derived (Open does).
	legacy bool
	// markedErasing, in memory only: the erasing state is committed to the
	// index (erasure step 1 done, or loaded as erasing). An erasing block
	// without it may still be indexed and must not be erased if a hold
	// now covers it.
	markedErasing bool
}

func (m blockMeta) hasFragments() bool { return m.last != 0 || m.first != 0 }

func (m blockMeta) clone() blockMeta {
	m.inits = append([]uint32(nil), m.inits...)
	return m
}

func (m *blockMeta) addInit(id uint32) {
	for _, x := range m.inits {
		if x == id {
			return
		}
	}
	m.inits = append(m.inits, id)
}

const metaPlain = 1 << 0

func (m blockMeta) encode() []byte {
	n := 44 + 4*len(m.inits)
	b := make([]byte, n+9)
	be := binary.BigEndian
	be.PutUint64(b[n:], uint64(m.lastE))
	if m.plain {
		b[n+8] |= metaPlain
	}
	b[0] = byte(m.state)
	b[1] = m.reason
	be.PutUint32(b[4:], m.camera)
	be.PutUint64(b[8:], m.gen)
	be.PutUint64(b[16:], uint64(m.used))
	be.PutUint64(b[24:], uint64(m.first))
	be.PutUint64(b[32:], uint64(m.last))
	be.PutUint32(b[40:], uint32(len(m.inits)))
	for i, id := range m.inits {
		be.PutUint32(b[44+4*i:], id)
	}
	return b
}

func decodeBlockMeta(b []byte) (blockMeta, error) {
	if len(b) < 44 {
		return blockMeta{}, fmt.Errorf("%w: block meta of %d bytes", ErrCorrupt, len(b))
	}
	be := binary.BigEndian
	m := blockMeta{
		state:  blockState(b[0]),
		reason: b[1],
		camera: be.Uint32(b[4:]),
		gen:    be.Uint64(b[8:]),
		used:   int64(be.Uint64(b[16:])),
		first:  int64(be.Uint64(b[24:])),
		last:   int64(be.Uint64(b[32:])),
	}
	n := int(be.Uint32(b[40:]))
	if m.state > stateErasing || n > (len(b)-44)/4 {
		return blockMeta{}, fmt.Errorf("%w: block meta", ErrCorrupt)
	}
	for i := range n {
		m.inits = append(m.inits, be.Uint32(b[44+4*i:]))
	}
	switch rest := b[44+4*n:]; len(rest) {
	case 0:
		// Written before ring time and encryption: its records are
		// plaintext, and lastE is derived from the wall clock on open.
		m.legacy, m.plain = true, m.state != stateFree
	case 9:
		m.lastE = int64(be.Uint64(rest))
		m.plain = rest[8]&metaPlain != 0
	default:
		return blockMeta{}, fmt.Errorf("%w: block meta tail of %d bytes", ErrCorrupt, len(rest))
	}
	m.markedErasing = m.state == stateErasing
	return m, nil
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

// fragEntry is one fragment's index value (72 bytes).
type fragEntry struct {
	block  uint32
	offset int64 // record start within the block
	length uint32
	dur    int64
	flags  uint16
	initID uint32
	sha    [32]byte
	gen    uint64
}

func (e fragEntry) encode() []byte {
	b := make([]byte, 72)
	be := binary.BigEndian
	be.PutUint32(b[0:], e.block)
	be.PutUint64(b[4:], uint64(e.offset))
	be.PutUint32(b[12:], e.length)
	be.PutUint64(b[16:], uint64(e.dur))
	be.PutUint16(b[24:], e.flags)
	be.PutUint32(b[28:], e.initID)
	copy(b[32:64], e.sha[:])
	be.PutUint64(b[64:], e.gen)
	return b
}

func decodeFragEntry(b []byte) (fragEntry, error) {
	if len(b) != 72 {
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
		gen:    be.Uint64(b[64:]),
	}
	copy(e.sha[:], b[32:64])
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
