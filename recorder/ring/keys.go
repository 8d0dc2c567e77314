package ring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
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

// keyFile is keys.dat. Keys are not kept in memory: a 20 TB ring has
// 5.3 million of them (255 MB), and the ring needs one only to open a
// block for appends (the camera keeps that cipher while the block is
// open) and to read a fragment (one 64-byte pread, from the page cache
// after the first). So an erased block's key is never left behind in the
// process either. Slot reads and writes are serialized by Ring.keyMu.
type keyFile struct {
	f  *os.File
	fd int
	n  int // slots
	// noSync: Options.NoSync (simulations).
	noSync bool
}

// openKeyFile opens (or creates) keys.dat for nblocks slots. A file of
// another size (cut short by a repair, a bad copy) is not refused — that
// would stop every camera: the slots it holds are kept, the rest are
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
	kf = &keyFile{f: f, fd: int(f.Fd()), n: nblocks}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, false, fmt.Errorf("ring: %w", err)
	}
	want := int64(nblocks) * slotSize
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

// keyFor returns block b's key if its slot holds one for generation gen.
func (k *keyFile) keyFor(b uint32, gen uint64) (*[keySize]byte, bool) {
	if int(b) >= k.n {
		return nil, false
	}
	var s [slotSize]byte
	defer clear(s[:])
	if _, err := k.f.ReadAt(s[:], int64(b)*slotSize); err != nil {
		return nil, false
	}
	sk := decodeSlot(s[:])
	if !sk.ok || sk.gen != gen {
		return nil, false
	}
	return &sk.key, true
}

// put writes a fresh random key for (b, gen) into its slot, replacing
// whatever key was there (no sync; the caller syncs).
func (k *keyFile) put(b uint32, gen uint64) error {
	var key [keySize]byte
	if _, err := rand.Read(key[:]); err != nil {
		return err
	}
	slot := encodeSlot(gen, &key)
	defer clear(slot[:])
	clear(key[:])
	_, err := k.f.WriteAt(slot[:], int64(b)*slotSize)
	return err
}

// keyScanChunk is how many slots scan reads at once (1 MiB).
const keyScanChunk = 16384

// scan reads every slot once, in order, and calls check with each; a
// slot check asks to renew (returning true, and the generation) gets a
// fresh key written in place (no sync). Open uses it to find missing keys
// and give free blocks theirs: one sequential pass over the file.
func (k *keyFile) scan(check func(b uint32, s slotKey) (renew bool, gen uint64)) (renewed int, err error) {
	buf := make([]byte, keyScanChunk*slotSize)
	defer clear(buf)
	for lo := 0; lo < k.n; lo += keyScanChunk {
		n := min(keyScanChunk, k.n-lo)
		part := buf[:n*slotSize]
		if _, err := k.f.ReadAt(part, int64(lo)*slotSize); err != nil {
			return renewed, fmt.Errorf("ring: read keys.dat: %w", err)
		}
		dirty := false
		for i := range n {
			slot := part[i*slotSize : (i+1)*slotSize]
			renew, gen := check(uint32(lo+i), decodeSlot(slot))
			if !renew {
				continue
			}
			var key [keySize]byte
			if _, err := rand.Read(key[:]); err != nil {
				return renewed, err
			}
			s := encodeSlot(gen, &key)
			copy(slot, s[:])
			clear(key[:])
			clear(s[:])
			dirty = true
			renewed++
		}
		if dirty {
			if _, err := k.f.WriteAt(part, int64(lo)*slotSize); err != nil {
				return renewed, err
			}
		}
	}
	return renewed, nil
}

func (k *keyFile) sync() error {
	if k.noSync {
		return nil
	}
	return unix.Fdatasync(k.fd)
}

func (k *keyFile) close() error { return k.f.Close() }
