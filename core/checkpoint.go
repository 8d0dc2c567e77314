package core

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/crypto/ssh"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Checkpoints. A checkpoint states the ledger's Merkle tree — its size and
// root hash — at a time, signed by the appliance, in the signed-note
// format (golang.org/x/mod/sumdb/note, ed25519) with a C2SP
// tlog-checkpoint body:
//
//	mimamori/<appliance id>          origin (also the signing key's name)
//	<tree size>
//	<root hash, base64>
//	time <RFC 3339 UTC>              extension line
//
//	— mimamori/<appliance id> <base64 key hash + signature>
//
// The signing key is the appliance's SSH host key (ed25519): one identity
// for an outsider to check, the same fingerprint as `ssh` shows, export
// manifests and receipts. A checkpoint kept outside the appliance makes
// any later rewrite of the ledger before its size detectable
// (VerifyLedgerFile with checkpoints; tlog consistency proofs).

// Checkpoint is a parsed or freshly signed checkpoint.
type Checkpoint struct {
	Origin      string
	Size        uint64
	Root        tlog.Hash
	Time        time.Time
	Fingerprint string // SHA256:… of the signing host key
	Text        []byte // the signed note, exactly as handed out
}

// ShortRoot is the first 8 bytes of the root in hex, for forms and screens.
func (c Checkpoint) ShortRoot() string { return fmt.Sprintf("%x", c.Root[:8]) }

// CheckpointKey is the public key checkpoints are signed with.
type CheckpointKey = ssh.PublicKey

// LogKeyName is the note key name (and checkpoint origin) for an
// appliance id: note names may hold no spaces or '+'.
func LogKeyName(applianceID string) string {
	id := strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || r == '+' || unicode.IsControl(r) || forbidden(r, false) {
			return '_'
		}
		return r
	}, applianceID)
	if id == "" {
		id = "appliance"
	}
	return "mimamori/" + id
}

// logSigner signs notes with an SSH ed25519 key.
type logSigner struct {
	name string
	hash uint32
	key  ssh.Signer
	fp   string
}

func (l *logSigner) Name() string    { return l.name }
func (l *logSigner) KeyHash() uint32 { return l.hash }
func (l *logSigner) Sign(msg []byte) ([]byte, error) {
	sig, err := l.key.Sign(rand.Reader, msg)
	if err != nil {
		return nil, err
	}
	if sig.Format != ssh.KeyAlgoED25519 || len(sig.Blob) != ed25519.SignatureSize {
		return nil, fmt.Errorf("checkpoint: host key signed with %s, not ed25519", sig.Format)
	}
	return sig.Blob, nil
}

// edKey is the ed25519 key inside an SSH public key.
func edKey(pk ssh.PublicKey) (ed25519.PublicKey, error) {
	if pk == nil || pk.Type() != ssh.KeyAlgoED25519 {
		return nil, fmt.Errorf("%w: checkpoints need an ed25519 host key", ErrInvalid)
	}
	cpk, ok := pk.(ssh.CryptoPublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: cannot read the host key", ErrInvalid)
	}
	ed, ok := cpk.CryptoPublicKey().(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: cannot read the host key", ErrInvalid)
	}
	return ed, nil
}

// noteVerifier is the note verifier of key under name.
func noteVerifier(name string, key ed25519.PublicKey) (note.Verifier, error) {
	vkey, err := note.NewEd25519VerifierKey(name, key)
	if err != nil {
		return nil, err
	}
	return note.NewVerifier(vkey)
}

// SetLogSigner gives the store the appliance's host key to sign
// checkpoints with, under the name LogKeyName(applianceID).
func (s *Store) SetLogSigner(applianceID string, host ssh.Signer) error {
	pub, err := edKey(host.PublicKey())
	if err != nil {
		return err
	}
	name := LogKeyName(applianceID)
	v, err := noteVerifier(name, pub)
	if err != nil {
		return fmt.Errorf("checkpoint key: %w", err)
	}
	s.signer.Store(&logSigner{name: name, hash: v.KeyHash(), key: host, fp: ssh.FingerprintSHA256(host.PublicKey())})
	return nil
}

// Checkpoint signs the current tree (manager: `ledger checkpoint`, the
// console's ledger tab). It writes nothing.
func (s *Store) Checkpoint(actor Actor) (Checkpoint, error) {
	if err := s.check(actor, ActionLedgerCheckpoint, ""); err != nil {
		return Checkpoint{}, err
	}
	var cp Checkpoint
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		cp, err = s.checkpointTx(tx)
		return err
	})
	return cp, err
}

// checkpointTx signs the tree as tx sees it. For core's own use (export
// manifests, receipts, forms) inside its transactions.
func (s *Store) checkpointTx(tx *bolt.Tx) (Checkpoint, error) {
	sg := s.signer.Load()
	if sg == nil {
		return Checkpoint{}, fmt.Errorf("%w: no key to sign checkpoints with", ErrUnavailable)
	}
	n := uint64(treeSize(tx))
	root, err := treeHash(tx, n)
	if err != nil {
		return Checkpoint{}, err
	}
	cp := Checkpoint{Origin: sg.name, Size: n, Root: root, Time: s.nowUTC().Truncate(time.Second), Fingerprint: sg.fp}
	body := fmt.Sprintf("%s\n%d\n%s\ntime %s\n", cp.Origin, cp.Size, base64.StdEncoding.EncodeToString(root[:]), cp.Time.Format(time.RFC3339))
	cp.Text, err = note.Sign(&note.Note{Text: body}, sg)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint: %w", err)
	}
	return cp, nil
}

// hostVerifiers accepts a signature by one key under whatever name the
// note gives (the name is bound into the key hash, so it cannot be
// swapped).
type hostVerifiers struct{ key ed25519.PublicKey }

func (h hostVerifiers) Verifier(name string, hash uint32) (note.Verifier, error) {
	v, err := noteVerifier(name, h.key)
	if err != nil || v.KeyHash() != hash {
		return nil, &note.UnknownVerifierError{Name: name, KeyHash: hash}
	}
	return v, nil
}

// maxCheckpoint bounds a checkpoint file: a few lines and one signature.
const maxCheckpoint = 4096

// ParseCheckpoint checks a checkpoint's signature against the appliance's
// host key and reads it.
func ParseCheckpoint(text []byte, key CheckpointKey) (Checkpoint, error) {
	if len(text) > maxCheckpoint {
		return Checkpoint{}, fmt.Errorf("%w: not a checkpoint (%d bytes)", ErrInvalid, len(text))
	}
	pub, err := edKey(key)
	if err != nil {
		return Checkpoint{}, err
	}
	n, err := note.Open(text, hostVerifiers{pub})
	if err != nil {
		var unknown *note.UnverifiedNoteError
		if errors.As(err, &unknown) {
			return Checkpoint{}, fmt.Errorf("%w: checkpoint not signed by this appliance's key %s", ErrInvalid, ssh.FingerprintSHA256(key))
		}
		return Checkpoint{}, fmt.Errorf("%w: checkpoint: %v", ErrInvalid, err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 || lines[len(lines)-1] != "" {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint body is malformed", ErrInvalid)
	}
	cp := Checkpoint{Origin: lines[0], Fingerprint: ssh.FingerprintSHA256(key), Text: append([]byte(nil), text...)}
	if cp.Origin != n.Sigs[0].Name {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint origin %q is not its signer %q", ErrInvalid, cp.Origin, n.Sigs[0].Name)
	}
	if cp.Size, err = strconv.ParseUint(lines[1], 10, 63); err != nil {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint size %q", ErrInvalid, lines[1])
	}
	raw, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(raw) != tlog.HashSize {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint root hash %q", ErrInvalid, lines[2])
	}
	copy(cp.Root[:], raw)
	for _, l := range lines[3 : len(lines)-1] {
		if t, ok := strings.CutPrefix(l, "time "); ok {
			cp.Time, _ = time.Parse(time.RFC3339, t)
		}
	}
	return cp, nil
}

// EntryProof shows that one ledger entry is in the tree a checkpoint
// signed: the entry's stored bytes (its leaf) and the RFC 6962 inclusion
// proof. Export manifests and receipts carry these.
type EntryProof struct {
	Seq   uint64      `json:"seq"`
	Entry []byte      `json:"entry"` // the stored entry (base64 in JSON)
	Proof []tlog.Hash `json:"proof"`
}

// Decode reads the proven entry.
func (p EntryProof) Decode() (Entry, error) { return decodeEntry(p.Entry) }

// proveEntries signs a checkpoint and proves entries seqs in its tree,
// all in one view (for export manifests; core's own callers have checked
// the actor).
func (s *Store) proveEntries(seqs []uint64) (Checkpoint, []EntryProof, error) {
	var cp Checkpoint
	var out []EntryProof
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		if cp, err = s.checkpointTx(tx); err != nil {
			return err
		}
		out, err = proveInTx(tx, cp.Size, seqs)
		return err
	})
	return cp, out, err
}

func proveInTx(tx *bolt.Tx, size uint64, seqs []uint64) ([]EntryProof, error) {
	out := make([]EntryProof, 0, len(seqs))
	for _, seq := range seqs {
		if seq == 0 || seq > size {
			return nil, fmt.Errorf("%w: ledger entry %d is not in a tree of %d", ErrInvalid, seq, size)
		}
		v := tx.Bucket(bLedger).Get(be64(seq))
		if v == nil {
			return nil, notFound("ledger entry", strconv.FormatUint(seq, 10))
		}
		p, err := tlog.ProveRecord(int64(size), int64(seq-1), hashReader(tx))
		if err != nil {
			return nil, fmt.Errorf("ledger proof of %d: %w", seq, err)
		}
		out = append(out, EntryProof{Seq: seq, Entry: bytes.Clone(v), Proof: p})
	}
	return out, nil
}

// VerifyEntryProof checks that p's entry is leaf p.Seq-1 of the tree cp
// signed (cp from ParseCheckpoint, so its signature is already checked).
func VerifyEntryProof(cp Checkpoint, p EntryProof) error {
	if p.Seq == 0 || p.Seq > cp.Size {
		return fmt.Errorf("%w: entry %d is not in a checkpoint of %d entries", ErrInvalid, p.Seq, cp.Size)
	}
	e, err := decodeEntry(p.Entry)
	if err != nil {
		return err
	}
	if e.Seq != p.Seq {
		return fmt.Errorf("%w: the proof is for entry %d but holds entry %d", ErrInvalid, p.Seq, e.Seq)
	}
	if err := tlog.CheckRecord(p.Proof, int64(cp.Size), cp.Root, int64(p.Seq-1), tlog.RecordHash(p.Entry)); err != nil {
		return fmt.Errorf("%w: entry %d is not in the checkpoint's tree: %v", ErrInvalid, p.Seq, err)
	}
	return nil
}

// ConsistencyProof proves that the tree of oldSize entries is a prefix of
// the tree of newSize (manager; for an auditor holding an older checkpoint).
func (s *Store) ConsistencyProof(actor Actor, oldSize, newSize uint64) (tlog.TreeProof, error) {
	if err := s.check(actor, ActionLedgerCheckpoint, ""); err != nil {
		return nil, err
	}
	var p tlog.TreeProof
	err := s.db.View(func(tx *bolt.Tx) error {
		if n := uint64(treeSize(tx)); oldSize > newSize || newSize > n {
			return fmt.Errorf("%w: sizes %d..%d outside the tree of %d", ErrInvalid, oldSize, newSize, n)
		}
		var err error
		p, err = tlog.ProveTree(int64(newSize), int64(oldSize), hashReader(tx))
		return err
	})
	return p, err
}

// InclusionProofs proves ledger entries seqs in a freshly signed
// checkpoint (manager).
func (s *Store) InclusionProofs(actor Actor, seqs []uint64) (Checkpoint, []EntryProof, error) {
	if err := s.check(actor, ActionLedgerCheckpoint, ""); err != nil {
		return Checkpoint{}, nil, err
	}
	return s.proveEntries(seqs)
}
