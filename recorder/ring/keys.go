package ring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// keys.dat holds one data key per block in a fixed slot, overwritten in
// place and synced. Erasing a block is destroying its key: the slot is
// overwritten with the key of the block's next generation and keys.dat is
// fdatasynced, after which the block's ciphertext in ring.dat cannot be
// decrypted by anyone. A free block therefore always has its next key
// ready, and taking a block writes nothing.
//
// Slot (64 bytes): 0 generation u64 BE | 8 key [32] | 40 crc32c of [0,40) |
// 44 zeros. An all-zero or mismatching slot is "no key".
//
// Keys are never written anywhere else: not to index.db (bbolt leaves
// deleted values in free pages), not to the ledger, not to a log.
const (
	slotSize = 64
	keySize  = 32
)

type slotKey struct {
	gen uint64
	key [keySize]byte
	ok  bool
}

func encodeSlot(gen uint64, key *[keySize]byte) [slotSize]byte {
	var s [slotSize]byte
	binary.BigEndian.PutUint64(s[0:], gen)
	copy(s[8:40], key[:])
	binary.BigEndian.PutUint32(s[40:], crc32.Checksum(s[:40], castagnoli))
	return s
}

func decodeSlot(s []byte) slotKey {
	if len(s) < slotSize || binary.BigEndian.Uint32(s[40:]) != crc32.Checksum(s[:40], castagnoli) || allZero(s[:40]) {
		return slotKey{}
	}
	k := slotKey{gen: binary.BigEndian.Uint64(s[0:]), ok: true}
	copy(k.key[:], s[8:40])
	return k
}

func newAEAD(key *[keySize]byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// keyFile is keys.dat. Reads of the in-memory copy and slot writes are
// serialized by Ring.keyMu.
type keyFile struct {
	f    *os.File
	fd   int
	keys []slotKey // in-memory copy, one per block
	// noSync: Options.NoSync (simulations).
	noSync bool
}

// openKeyFile opens (or creates) keys.dat for nblocks slots. A file of
// another size (cut short by a repair, a bad copy) is not refused — that
// would stop every camera: the slots it holds are read, the rest are
// missing keys, and the file is brought to its size; resized reports
// that an existing file had another size.
func openKeyFile(dir string, nblocks int, create bool) (kf *keyFile, resized bool, err error) {
	path := filepath.Join(dir, "keys.dat")
	flags := os.O_RDWR
	if create {
		flags |= os.O_CREATE
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("ring: %w", err)
	}
	kf = &keyFile{f: f, fd: int(f.Fd()), keys: make([]slotKey, nblocks)}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, false, fmt.Errorf("ring: %w", err)
	}
	want := int64(nblocks) * slotSize
	if have := min(fi.Size(), want) / slotSize * slotSize; have > 0 {
		buf := make([]byte, have)
		if _, err := io.ReadFull(io.NewSectionReader(f, 0, have), buf); err != nil {
			f.Close()
			return nil, false, fmt.Errorf("ring: read keys.dat: %w", err)
		}
		for i := range int(have / slotSize) {
			kf.keys[i] = decodeSlot(buf[i*slotSize:])
		}
		clear(buf)
	}
	if fi.Size() != want {
		resized = fi.Size() != 0
		if err := f.Truncate(want); err != nil {
			f.Close()
			return nil, false, fmt.Errorf("ring: size keys.dat: %w", err)
		}
		_ = unix.Fallocate(kf.fd, 0, 0, want) // take the space now where the file system can
	}
	return kf, resized, nil
}

// keyFor returns block b's key if the slot holds one for generation gen.
func (k *keyFile) keyFor(b uint32, gen uint64) (*[keySize]byte, bool) {
	s := &k.keys[b]
	if !s.ok || s.gen != gen {
		return nil, false
	}
	return &s.key, true
}

// put writes a fresh random key for (b, gen) into its slot, replacing
// whatever key was there (no sync; the caller syncs).
func (k *keyFile) put(b uint32, gen uint64) error {
	var key [keySize]byte
	if _, err := rand.Read(key[:]); err != nil {
		return err
	}
	slot := encodeSlot(gen, &key)
	if _, err := k.f.WriteAt(slot[:], int64(b)*slotSize); err != nil {
		clear(key[:])
		return err
	}
	k.keys[b] = slotKey{gen: gen, key: key, ok: true}
	clear(key[:])
	clear(slot[:])
	return nil
}

func (k *keyFile) sync() error {
	if k.noSync {
		return nil
	}
	return unix.Fdatasync(k.fd)
}

func (k *keyFile) close() error {
	for i := range k.keys {
		k.keys[i] = slotKey{}
	}
	return k.f.Close()
}
