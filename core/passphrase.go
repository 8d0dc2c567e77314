package core

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/crypto/argon2"
)

// kdfParams are argon2id parameters, stored with the hash so they can be
// raised later without invalidating the stored passphrase.
type kdfParams struct {
	Time    uint32 `json:"Time"`
	MemKiB  uint32 `json:"MemKiB"`
	Threads uint8  `json:"Threads"`

	failDelay time.Duration // added to a wrong guess; not stored
}

var defaultKDF = kdfParams{Time: 3, MemKiB: 64 * 1024, Threads: 2, failDelay: time.Second}

type storedPass struct {
	KDF  string    `json:"KDF"`
	P    kdfParams `json:"P"`
	Salt []byte    `json:"Salt"`
	Hash []byte    `json:"Hash"`
}

// SetExportPassphrase stores a slow hash of the manager-held export
// passphrase (000 §7-4(4)). Once set, every export must present it: it is
// the manager's lock on taking footage out, typed by the manager, and
// encrypts nothing (packages have their own keys, ProtectPackage). The
// ledger records that it changed, never what.
func (s *Store) SetExportPassphrase(actor Actor, pass []byte) error {
	if !Allowed(actor.Role, ActionExportPassphrase) {
		return s.deny(actor, ActionExportPassphrase, "")
	}
	if err := CheckSecret("passphrase", pass); err != nil { // secret.go: the policy for chosen secrets
		return err
	}
	if len(pass) > 1024 {
		return Invalid("passphrase", "longer than 1024 bytes")
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return err
	}
	p := s.kdf
	sp := storedPass{KDF: "argon2id", P: p, Salt: salt, Hash: argon2.IDKey(pass, salt, p.Time, p.MemKiB, p.Threads, 32)}
	raw, err := json.Marshal(sp)
	if err != nil {
		return err
	}
	_, err = s.mutate(actor, ActionExportPassphrase, "export-passphrase", func(tx *bolt.Tx) ([]draft, error) {
		meta := tx.Bucket(bMeta)
		replaced := meta.Get(kPassphrase) != nil
		if err := meta.Put(kPassphrase, raw); err != nil {
			return nil, err
		}
		return []draft{{Subject: "export-passphrase", Details: map[string]string{
			"kdf": "argon2id", "replaced": fmt.Sprint(replaced)}}}, nil
	})
	return err
}

// CheckExportPassphrase compares in constant time against the stored hash.
// False when none is set.
func (s *Store) CheckExportPassphrase(pass []byte) bool {
	var sp storedPass
	var found bool
	err := s.db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bMeta).Get(kPassphrase)
		if raw == nil {
			return nil
		}
		found = true
		return json.Unmarshal(raw, &sp)
	})
	if err != nil || !found || sp.KDF != "argon2id" || len(sp.Hash) == 0 || sp.P.Time == 0 || sp.P.Threads == 0 || sp.P.Time > 100 || sp.P.MemKiB > 4<<20 {
		return false
	}
	// One check at a time: each costs the KDF's memory, and a wrong guess
	// costs a second more, so parallel sessions cannot grind guesses or
	// exhaust memory.
	s.passMu.Lock()
	defer s.passMu.Unlock()
	got := argon2.IDKey(pass, sp.Salt, sp.P.Time, sp.P.MemKiB, sp.P.Threads, uint32(len(sp.Hash)))
	ok := subtle.ConstantTimeCompare(got, sp.Hash) == 1
	if !ok && s.kdf.failDelay > 0 {
		time.Sleep(s.kdf.failDelay)
	}
	return ok
}

// HasExportPassphrase reports whether a passphrase has been set.
func (s *Store) HasExportPassphrase() bool {
	var ok bool
	_ = s.db.View(func(tx *bolt.Tx) error { ok = tx.Bucket(bMeta).Get(kPassphrase) != nil; return nil })
	return ok
}

// ClearExportPassphrase removes the manager's lock on exporting (manager).
// Packages never depended on it: each is encrypted to its request's own
// key (ProtectPackage).
func (s *Store) ClearExportPassphrase(actor Actor) error {
	if !Allowed(actor.Role, ActionExportPassphrase) {
		return s.deny(actor, ActionExportPassphrase, "")
	}
	_, err := s.mutate(actor, ActionExportPassphrase, "export-passphrase", func(tx *bolt.Tx) ([]draft, error) {
		meta := tx.Bucket(bMeta)
		if meta.Get(kPassphrase) == nil {
			return nil, fmt.Errorf("%w: no export passphrase is set", ErrConflict)
		}
		if err := meta.Delete(kPassphrase); err != nil {
			return nil, err
		}
		return []draft{{Subject: "export-passphrase", Details: map[string]string{"cleared": "true"}}}, nil
	})
	return err
}

// Guessing the export passphrase. One console session can submit the
// export form any number of times, and a script can open a session every
// few seconds: after passFreeTries wrong passphrases in a row a key waits
// passBackoff before its next check, doubling with each further wrong one
// up to passBackoffMax. While it waits nothing is checked (the right
// passphrase is refused too) and the refusals are coalesced, so a key
// gets about 30 guesses a day and writes about as many entries. It is
// per key: one key's guessing never holds up another's export (the
// manager's included). Kept in memory: a restart forgives, but restarts
// are the manager's.
const (
	passFreeTries  = 3
	passBackoff    = time.Minute
	passBackoffMax = time.Hour
)

// passGuard counts each key's wrong export passphrases in a row. It holds
// at most one small record per enrolled key that ever guessed wrong.
type passGuard struct {
	mu   sync.Mutex
	keys map[string]*passFails
}

type passFails struct {
	n     int       // wrong in a row
	until time.Time // no check before this
	busy  bool      // a check is running: one at a time per key
}

// begin reserves fp's next check, or says until when it must wait (zero
// while another check of fp runs: parallel sessions of one key must not
// get their guesses in before the first wrong one is counted).
func (g *passGuard) begin(fp string, now time.Time) (time.Time, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.keys == nil {
		g.keys = map[string]*passFails{}
	}
	f := g.keys[fp]
	if f == nil {
		f = &passFails{}
		g.keys[fp] = f
	}
	if f.busy {
		return time.Time{}, false
	}
	if now.Before(f.until) {
		return f.until, false
	}
	f.busy = true
	return time.Time{}, true
}

// end records the outcome of the check begin reserved.
func (g *passGuard) end(fp string, ok bool, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	f := g.keys[fp]
	if ok {
		delete(g.keys, fp)
		return
	}
	f.busy = false
	f.n++
	if f.n >= passFreeTries {
		wait := passBackoff << min(f.n-passFreeTries, 6)
		f.until = now.Add(min(wait, passBackoffMax))
	}
}

// checkExportLock checks the passphrase actor gave for exporting request
// id against the manager's lock, under actor's key's wait. It returns a
// refusal (ErrForbidden) during the wait, ErrWrongPassphrase (ledgered by
// the caller) for a wrong one, nil for the right one.
func (s *Store) checkExportLock(actor Actor, id string, pass []byte) (waiting, wrong error) {
	now := s.nowUTC()
	if until, ok := s.passGuard.begin(actor.Fingerprint, now); !ok {
		why := "another export passphrase of this key is being checked"
		if !until.IsZero() {
			why = "after wrong export passphrases this key may try again at " + fmtTime(until)
		}
		s.refuse(actor, string(ActionRequestExport), "waiting after wrong export passphrases", "", id)
		return fmt.Errorf("%w: role %s may not %s now: %w", ErrForbidden, actor.Role, ActionRequestExport, &Refusal{Reason: why}), nil
	}
	ok := s.CheckExportPassphrase(pass)
	s.passGuard.end(actor.Fingerprint, ok, s.nowUTC())
	if !ok {
		return nil, fmt.Errorf("%w: %w for request %s", ErrForbidden, ErrWrongPassphrase, id)
	}
	return nil, nil
}
