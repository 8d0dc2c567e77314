// Package keys turns SSH public keys into people: it parses and
// fingerprints keys, resolves a presented key to an enrolled actor through
// core, and owns the appliance's host key and the demo's user keys.
package keys

import (
	"bytes"
	"errors"
	"fmt"

	"golang.org/x/crypto/ssh"

	"mimamori/core"
)

// ErrUnknownKey is returned by Resolve for a key that is not enrolled (or
// is revoked or expired). The SSH layer refuses such keys.
var ErrUnknownKey = errors.New("key not enrolled")

// ParseAuthorizedKey parses one authorized_keys line (options allowed,
// ignored) and returns the key and its comment.
func ParseAuthorizedKey(line []byte) (ssh.PublicKey, string, error) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return nil, "", errors.New("empty public key")
	}
	pk, comment, _, rest, err := ssh.ParseAuthorizedKey(line)
	if err != nil {
		return nil, "", fmt.Errorf("not an SSH public key (authorized_keys format): %w", err)
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, "", errors.New("more than one public key given")
	}
	return pk, comment, nil
}

// AuthorizedLine renders pk as an authorized_keys line, with an optional comment.
func AuthorizedLine(pk ssh.PublicKey, comment string) string {
	s := string(bytes.TrimSpace(ssh.MarshalAuthorizedKey(pk)))
	if comment != "" {
		s += " " + comment
	}
	return s
}

// Fingerprint is the OpenSSH SHA256 fingerprint ("SHA256:…"), the form
// `ssh-keygen -l` prints and core stores keys under.
func Fingerprint(pk ssh.PublicKey) string { return ssh.FingerprintSHA256(pk) }

// Lookup finds an active enrolled key by fingerprint; *core.Store is one.
type Lookup interface {
	LookupKey(fingerprint string) (core.Key, error)
}

// Resolver maps a presented public key to the person enrolled with it.
type Resolver struct {
	Keys Lookup
}

// Resolve returns the actor for pk, or an error wrapping ErrUnknownKey.
// Call it with the key the client proved it holds (the session's key), not
// a key merely offered during authentication.
func (r Resolver) Resolve(pk ssh.PublicKey) (core.Actor, error) {
	if pk == nil {
		return core.Actor{}, fmt.Errorf("%w: no public key", ErrUnknownKey)
	}
	if r.Keys == nil {
		return core.Actor{}, errors.New("keys: resolver has no lookup")
	}
	fp := Fingerprint(pk)
	k, err := r.Keys.LookupKey(fp)
	if errors.Is(err, core.ErrNotFound) {
		return core.Actor{}, fmt.Errorf("%w: %s", ErrUnknownKey, fp)
	}
	if err != nil {
		return core.Actor{}, fmt.Errorf("keys: look up %s: %w", fp, err)
	}
	// The fingerprint is the lookup key; the stored key itself is the
	// authority, so compare the full key rather than trust a hash match.
	stored, _, err := ParseAuthorizedKey([]byte(k.PublicKey))
	if err != nil || !bytes.Equal(stored.Marshal(), pk.Marshal()) {
		return core.Actor{}, fmt.Errorf("%w: %s (stored key does not match)", ErrUnknownKey, fp)
	}
	if k.Role == core.RoleNone || k.Role == core.RoleSystem {
		return core.Actor{}, fmt.Errorf("%w: %s has no usable role", ErrUnknownKey, fp)
	}
	return k.Actor(), nil
}
