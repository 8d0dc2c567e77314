package keys

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/crypto/ssh"
)

// HostKeyPath is where the host key lives under the data directory.
func HostKeyPath(dataDir string) string {
	return filepath.Join(dataDir, "ssh", "host_ed25519")
}

// LoadOrCreateHostKey returns the appliance's ed25519 host key from
// DIR/ssh/host_ed25519, creating it (0600, OpenSSH PEM) on first start.
// The same key must survive restarts, or every client sees a host-key
// change warning, so an unreadable existing key is an error, never
// silently replaced.
func LoadOrCreateHostKey(dir string) (signer ssh.Signer, fingerprint string, created bool, err error) {
	path := HostKeyPath(dir)
	signer, err = loadPrivateKey(path)
	if err == nil {
		return signer, Fingerprint(signer.PublicKey()), false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, "", false, fmt.Errorf("host key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, "", false, fmt.Errorf("host key: %w", err)
	}
	signer, err = writeNewKey(path, "mimamori host key")
	if err != nil {
		return nil, "", false, fmt.Errorf("host key: %w", err)
	}
	return signer, Fingerprint(signer.PublicKey()), true, nil
}

// GenerateUserKey writes a new ed25519 private key to path (0600, OpenSSH
// PEM, usable with `ssh -i path`) and its public half to path.pub. It
// refuses to overwrite an existing key (error wraps fs.ErrExist). The
// returned authorized_keys line has the file's base name as comment.
func GenerateUserKey(path string) (authorizedLine string, err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("user key: %w", err)
	}
	signer, err := writeNewKey(path, filepath.Base(path))
	if err != nil {
		return "", fmt.Errorf("user key: %w", err)
	}
	line := AuthorizedLine(signer.PublicKey(), filepath.Base(path))
	if err := os.WriteFile(path+".pub", []byte(line+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("user key: %w", err)
	}
	return line, nil
}

// LoadOrGenerateUserKey returns the authorized line of the key at path,
// generating it first if it does not exist (the demo reuses its keys
// across runs).
func LoadOrGenerateUserKey(path string) (authorizedLine string, created bool, err error) {
	signer, err := loadPrivateKey(path)
	if err == nil {
		return AuthorizedLine(signer.PublicKey(), filepath.Base(path)), false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", false, fmt.Errorf("user key: %w", err)
	}
	line, err := GenerateUserKey(path)
	return line, err == nil, err
}

func loadPrivateKey(path string) (ssh.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	signer, err := ssh.ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return signer, nil
}

// writeNewKey creates the key file exclusively (O_EXCL) so two starts never
// race to different keys, writing through a temp file so a crash never
// leaves a half-written key behind.
func writeNewKey(path, comment string) (ssh.Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return nil, err
	}
	data := pem.EncodeToMemory(block)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".key-*")
	if err != nil {
		return nil, err
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // no-op once linked into place
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	// Link fails if path exists: never overwrite a key.
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("%s already exists: %w", path, fs.ErrExist)
		}
		// No hard links on this filesystem: exclusive create instead.
		if err := writeExclusive(path, data); err != nil {
			return nil, err
		}
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync() // make the new name durable
		d.Close()
	}
	return ssh.NewSignerFromKey(priv)
}

func writeExclusive(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s already exists: %w", path, fs.ErrExist)
		}
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}
