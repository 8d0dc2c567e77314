package export

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/ssh"

	"mimamori/core"
)

// Names inside a package.
const (
	ManifestName  = "manifest.json"
	SignatureName = "manifest.sig"
	// Format identifies the package layout; verify refuses others.
	// Version 2: encrypted to the request's own key (EncryptionInfo.Method).
	Format = "mimamori-export/2"
	// FormatV1 packages (passphrase-encrypted) are still verified.
	FormatV1 = "mimamori-export/1"
)

// Manifest is what a package states about itself. It is written as
// manifest.json and signed by the appliance's host key.
type Manifest struct {
	Format          string         `json:"format"`
	Request         RequestInfo    `json:"request"`
	Cameras         []CameraRange  `json:"cameras"`
	Files           []FileEntry    `json:"files"`
	Approver        string         `json:"approver"`
	Operator        string         `json:"operator"`
	ApprovedAt      *time.Time     `json:"approved_at,omitempty"`
	StartedAt       time.Time      `json:"started_at"`
	FinishedAt      time.Time      `json:"finished_at"`
	ApplianceID     string         `json:"appliance_id"`
	SoftwareVersion string         `json:"software_version"`
	LedgerSeq       uint64         `json:"ledger_seq"`
	Signer          SignerInfo     `json:"signer"`
	Encryption      EncryptionInfo `json:"encryption"`
	Notes           []string       `json:"notes,omitempty"`
	// Ledger anchors the package in the appliance's ledger: the signed
	// checkpoint when the export began and the request's entries proven
	// in it (RFC 6962 inclusion proofs).
	Ledger *LedgerAnchor `json:"ledger,omitempty"`
}

// LedgerAnchor is a signed checkpoint (note text) and the request's
// ledger entries with their inclusion proofs in its tree.
type LedgerAnchor struct {
	Checkpoint string            `json:"checkpoint"`
	Entries    []core.EntryProof `json:"entries"`
}

// RequestInfo is form 2 as registered.
type RequestInfo struct {
	ID               string    `json:"id"`
	ReceivedAt       time.Time `json:"received_at"`
	Agency           string    `json:"agency"`
	ApplicantAddress string    `json:"applicant_address"`
	Representative   string    `json:"representative"`
	ContactPerson    string    `json:"contact_person"`
	Phone            string    `json:"phone"`
	Purpose          string    `json:"purpose"`
	PurposeReason    string    `json:"purpose_reason,omitempty"`
	Ground           string    `json:"ground"`
	GroundNote       string    `json:"ground_note,omitempty"`
	Cameras          []string  `json:"cameras"`
	From             time.Time `json:"from"`
	To               time.Time `json:"to"`
	Notes            string    `json:"notes,omitempty"`
	WrittenRef       string    `json:"written_ref,omitempty"`
}

// CameraRange is one camera's approved range and what the package holds
// of it. Actual ranges start at the keyframe at or before the approved
// start and end with the fragment that covers the approved end, since a
// file cannot start between keyframes without re-encoding.
type CameraRange struct {
	Camera        string        `json:"camera"`
	ApprovedFrom  time.Time     `json:"approved_from"`
	ApprovedTo    time.Time     `json:"approved_to"`
	Actual        []ActualRange `json:"actual"`
	NoFootageNote string        `json:"no_footage,omitempty"`
	// Damaged names footage inside Actual that the package leaves out
	// because its stored bytes failed their check (or depend on such
	// bytes); the file holds a skippable "free" box in its place.
	Damaged []DamagedRange `json:"damaged,omitempty"`
}

// DamagedRange is an interval of one file left out as damaged.
type DamagedRange struct {
	File   string    `json:"file"`
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	Reason string    `json:"reason"`
}

// ActualRange is the footage one file holds.
type ActualRange struct {
	File string    `json:"file"`
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// FileEntry is one MP4 of the package.
type FileEntry struct {
	Name      string    `json:"name"`
	Camera    string    `json:"camera"`
	SHA256    string    `json:"sha256"`
	Bytes     int64     `json:"bytes"`
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	Fragments int       `json:"fragments"`
}

// SignerInfo names the key that signed the manifest.
type SignerInfo struct {
	Algorithm   string `json:"algorithm"`
	PublicKey   string `json:"public_key"` // authorized_keys format
	Fingerprint string `json:"fingerprint"`
}

// EncryptionInfo says how the package was protected.
type EncryptionInfo struct {
	Scheme     string   `json:"scheme"`               // "age"
	Method     string   `json:"method,omitempty"`     // "approval-secret" or "recipient-key" (v2)
	Passphrase bool     `json:"passphrase,omitempty"` // v1 only: the manager's passphrase (scrypt)
	Recipients []string `json:"recipients,omitempty"` // the public keys it was encrypted to
}

// Signature is manifest.sig: the SSH signature over the exact bytes of
// manifest.json, with the public key to check it against.
type Signature struct {
	Format      string `json:"format"` // ssh signature format, e.g. "ssh-ed25519"
	PublicKey   string `json:"public_key"`
	Fingerprint string `json:"fingerprint"`
	Signature   string `json:"signature"` // base64 signature blob
}

// sign signs manifest bytes with signer.
func sign(signer ssh.Signer, manifest []byte) ([]byte, error) {
	sig, err := signer.Sign(rand.Reader, manifest)
	if err != nil {
		return nil, fmt.Errorf("export: sign manifest: %w", err)
	}
	pk := signer.PublicKey()
	return json.MarshalIndent(Signature{
		Format:      sig.Format,
		PublicKey:   string(ssh.MarshalAuthorizedKey(pk)[:len(ssh.MarshalAuthorizedKey(pk))-1]),
		Fingerprint: ssh.FingerprintSHA256(pk),
		Signature:   base64.StdEncoding.EncodeToString(sig.Blob),
	}, "", "  ")
}

// Typed verification failures.
var (
	ErrBadSignature = errors.New("signature invalid")
	ErrSignerKey    = errors.New("manifest signer does not match the signature's key")
)

// checkSignature verifies manifest.sig over manifest.json and returns the
// signer's fingerprint.
func checkSignature(manifest, sigFile []byte, m *Manifest) (string, error) {
	var s Signature
	if err := json.Unmarshal(sigFile, &s); err != nil {
		return "", fmt.Errorf("%w: manifest.sig is not readable: %v", ErrBadSignature, err)
	}
	pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(s.PublicKey))
	if err != nil {
		return "", fmt.Errorf("%w: public key: %v", ErrBadSignature, err)
	}
	if pk.Type() != ssh.KeyAlgoED25519 || s.Format != ssh.KeyAlgoED25519 {
		return "", fmt.Errorf("%w: key type %s, signature %s; want ssh-ed25519", ErrBadSignature, pk.Type(), s.Format)
	}
	blob, err := base64.StdEncoding.DecodeString(s.Signature)
	if err != nil {
		return "", fmt.Errorf("%w: signature encoding: %v", ErrBadSignature, err)
	}
	if err := pk.Verify(manifest, &ssh.Signature{Format: s.Format, Blob: blob}); err != nil {
		return "", fmt.Errorf("%w: manifest.json was altered or signed by another key", ErrBadSignature)
	}
	fp := ssh.FingerprintSHA256(pk)
	if m != nil {
		mpk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(m.Signer.PublicKey))
		if err != nil || ssh.FingerprintSHA256(mpk) != fp {
			return fp, ErrSignerKey
		}
	}
	return fp, nil
}
