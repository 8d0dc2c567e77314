package core

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/crypto/ssh"
)

// Key is an enrolled SSH public key: who it is and what role it carries.
type Key struct {
	Fingerprint string    `json:"Fingerprint"` // ssh.FingerprintSHA256, "SHA256:…"
	Name        string    `json:"Name"`
	Role        Role      `json:"Role"`
	PublicKey   string    `json:"PublicKey"` // authorized_keys line
	Type        string    `json:"Type"`      // e.g. ssh-ed25519
	EnrolledAt  time.Time `json:"EnrolledAt"`
	EnrolledBy  string    `json:"EnrolledBy"`
	RevokedAt   time.Time `json:"RevokedAt"`
	// Viewer keys only: the grant they belong to and when it expires.
	GrantID   string    `json:"GrantID,omitempty"`
	ExpiresAt time.Time `json:"ExpiresAt,omitempty"`
	// The person behind the key (000 §5-2, §6; forms 2 and 3 print them).
	JobTitle string        `json:"JobTitle,omitempty"` // 職名
	Section  string        `json:"Section,omitempty"`  // 所属
	Pledge   *PledgeRecord `json:"Pledge,omitempty"`   // confidentiality pledge (000 §11, 001 §3(5))
}

// Active reports whether the key may log in at t.
func (k Key) Active(t time.Time) bool {
	return k.RevokedAt.IsZero() && (k.ExpiresAt.IsZero() || t.Before(k.ExpiresAt))
}

// ParseKey parses an authorized_keys line and returns the key, its
// fingerprint and its normalised one-line form.
func ParseKey(authorizedKey string) (pk ssh.PublicKey, fingerprint, line string, err error) {
	pk, comment, _, _, err := ssh.ParseAuthorizedKey([]byte(strings.TrimSpace(authorizedKey)))
	if err != nil {
		return nil, "", "", Invalid("public_key", "not an authorized_keys line: "+err.Error())
	}
	if err := CheckKeyPolicy(pk); err != nil {
		return nil, "", "", err
	}
	line = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk)))
	if comment = CleanLine(comment, 100); comment != "" {
		line += " " + comment
	}
	return pk, ssh.FingerprintSHA256(pk), line, nil
}

func validName(field, v string, max int) error {
	v = strings.TrimSpace(v)
	if v == "" {
		return Invalid(field, "required")
	}
	return CheckLine(field, v, max)
}

// EnrollKey enrols a public key for a manager, operator or technician
// without job title, section or pledge: the offline bootstrap (system)
// only. Anyone else enrols people with EnrollPerson; the Keys tab and
// health warn about keys that lack them.
func (s *Store) EnrollKey(actor Actor, name string, role Role, authorizedKey string) (Key, error) {
	return s.EnrollPerson(actor, Enrolment{Name: name, Role: role, AuthorizedKey: authorizedKey})
}

// activeManagers counts active manager keys other than except.
func activeManagers(b *bolt.Bucket, now time.Time, except string) (int, error) {
	n := 0
	err := b.ForEach(func(k, v []byte) error {
		if string(k) == except {
			return nil
		}
		var key Key
		if _, err := getJSON(b, string(k), &key); err != nil {
			return err
		}
		if key.Role == RoleManager && key.Active(now) {
			n++
		}
		return nil
	})
	return n, err
}

// RevokeKey revokes a key; the last active manager key cannot be revoked.
func (s *Store) RevokeKey(actor Actor, fingerprint, reason string) error {
	if !Allowed(actor.Role, ActionKeyRevoke) {
		return s.deny(actor, ActionKeyRevoke, fingerprint)
	}
	if err := validName("reason", reason, 1000); err != nil {
		return err
	}
	now := s.nowUTC()
	_, err := s.mutate(actor, ActionKeyRevoke, fingerprint, func(tx *bolt.Tx) ([]draft, error) {
		b := tx.Bucket(bKeys)
		var k Key
		found, err := getJSON(b, fingerprint, &k)
		if err != nil {
			return nil, err
		}
		if !found || !k.RevokedAt.IsZero() {
			return nil, notFound("active key", fingerprint)
		}
		if k.Role == RoleManager {
			n, err := activeManagers(b, now, fingerprint)
			if err != nil {
				return nil, err
			}
			if n == 0 {
				return nil, fmt.Errorf("%w: %s is the last manager key", ErrConflict, k.Name)
			}
		}
		k.RevokedAt = now
		if err := putJSON(b, fingerprint, k); err != nil {
			return nil, err
		}
		return []draft{{Subject: fingerprint, Details: map[string]string{"name": k.Name, "role": k.Role.String(), "reason": reason}}}, nil
	})
	return err
}

// ChangeKeyRole changes an active key's role (manager, operator, technician).
func (s *Store) ChangeKeyRole(actor Actor, fingerprint string, role Role) error {
	if !Allowed(actor.Role, ActionKeyRoleChange) {
		return s.deny(actor, ActionKeyRoleChange, fingerprint)
	}
	if role != RoleManager && role != RoleOperator && role != RoleTechnician {
		return Invalid("role", "must be manager, operator or technician")
	}
	now := s.nowUTC()
	_, err := s.mutate(actor, ActionKeyRoleChange, fingerprint, func(tx *bolt.Tx) ([]draft, error) {
		b := tx.Bucket(bKeys)
		var k Key
		found, err := getJSON(b, fingerprint, &k)
		if err != nil {
			return nil, err
		}
		if !found || !k.Active(now) {
			return nil, notFound("active key", fingerprint)
		}
		if k.Role == RoleViewer {
			return nil, fmt.Errorf("%w: viewer keys belong to a grant", ErrConflict)
		}
		if k.Role == role {
			return nil, fmt.Errorf("%w: %s is already %s", ErrConflict, k.Name, role)
		}
		if k.Role == RoleManager {
			n, err := activeManagers(b, now, fingerprint)
			if err != nil {
				return nil, err
			}
			if n == 0 {
				return nil, fmt.Errorf("%w: %s is the last manager key", ErrConflict, k.Name)
			}
		}
		if role == RoleManager {
			if err := s.managerRoom(b, now, fingerprint); err != nil {
				return nil, err
			}
		}
		old := k.Role
		k.Role = role
		if err := putJSON(b, fingerprint, k); err != nil {
			return nil, err
		}
		return []draft{{Subject: fingerprint, Details: map[string]string{"name": k.Name, "from": old.String(), "to": role.String()}}}, nil
	})
	return err
}

// Keys lists every key, active and revoked (manager).
func (s *Store) Keys(actor Actor) ([]Key, error) {
	out, err := readAll[Key](s, actor, ActionKeysRead, bKeys)
	sort.Slice(out, func(i, j int) bool { return out[i].EnrolledAt.Before(out[j].EnrolledAt) })
	return out, err
}

// LookupKey is the authentication step: the active key with this
// fingerprint, or ErrNotFound (unknown, revoked or expired).
func (s *Store) LookupKey(fingerprint string) (Key, error) {
	var k Key
	var found bool
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		found, err = getJSON(tx.Bucket(bKeys), fingerprint, &k)
		return err
	})
	if err != nil {
		return Key{}, err
	}
	if !found || !k.Active(s.nowUTC()) {
		return Key{}, notFound("key", fingerprint)
	}
	return k, nil
}

// Actor returns the actor a key acts as.
func (k Key) Actor() Actor { return Actor{Fingerprint: k.Fingerprint, Name: k.Name, Role: k.Role} }

// RefusedKey is a key that tried to log in and was refused. Kept outside
// the ledger (a scanner must not be able to grow it) so the manager can
// enrol it with one keystroke.
type RefusedKey struct {
	Fingerprint   string    `json:"Fingerprint"`
	KeyType       string    `json:"KeyType"`
	AuthorizedKey string    `json:"AuthorizedKey"`
	RemoteAddr    string    `json:"RemoteAddr"`
	FirstSeen     time.Time `json:"FirstSeen"`
	LastSeen      time.Time `json:"LastSeen"`
	Count         int       `json:"Count"`
}

const (
	refusedCap      = 500
	refusedInterval = 10 * time.Second
	refusedGap      = 50 * time.Millisecond // at most ~20 refused-key writes per second overall
)

// refusedLimiter keeps a scanner from turning refusals into disk writes.
type refusedLimiter struct {
	mu        sync.Mutex
	last      map[string]time.Time // fingerprint -> last write
	pending   map[string]int       // attempts not yet written
	lastWrite time.Time
}

func (l *refusedLimiter) admit(fp string, now time.Time) (extra int, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == nil {
		l.last = map[string]time.Time{}
		l.pending = map[string]int{}
	}
	if t, seen := l.last[fp]; seen && now.Sub(t) < refusedInterval && now.Sub(t) >= 0 {
		if len(l.pending) < 4*refusedCap || l.pending[fp] > 0 {
			l.pending[fp]++
		}
		return 0, false
	}
	if now.Sub(l.lastWrite) < refusedGap && now.Sub(l.lastWrite) >= 0 {
		return 0, false
	}
	l.lastWrite = now
	if len(l.last) >= 4*refusedCap { // forget the rate memory rather than grow it
		l.last = map[string]time.Time{}
	}
	l.last[fp] = now
	extra = l.pending[fp]
	delete(l.pending, fp)
	return extra, true
}

func (l *refusedLimiter) forget(fp string) {
	l.mu.Lock()
	delete(l.last, fp)
	delete(l.pending, fp)
	l.mu.Unlock()
}

// RecordRefusedKey remembers a refused login attempt (no ledger entry).
func (s *Store) RecordRefusedKey(r RefusedKey) error {
	return s.recordRefusedKey(SystemActor("sshd"), r)
}

func (s *Store) recordRefusedKey(actor Actor, r RefusedKey) error {
	if !Allowed(actor.Role, ActionRefusedKey) {
		return s.deny(actor, ActionRefusedKey, r.Fingerprint)
	}
	if r.Fingerprint == "" || len(r.Fingerprint) > 200 {
		return Invalid("fingerprint", "required")
	}
	if len(r.AuthorizedKey) > 16<<10 || CheckLine("key", r.AuthorizedKey, 0) != nil {
		r.AuthorizedKey = ""
	}
	r.RemoteAddr = ledgerSafe(r.RemoteAddr, 200)
	r.KeyType = ledgerSafe(r.KeyType, 100)
	now := s.nowUTC()
	extra, ok := s.refused.admit(r.Fingerprint, now)
	if !ok {
		return nil
	}
	return s.write(func(tx *bolt.Tx) error {
		b := tx.Bucket(bRefused)
		var old RefusedKey
		found, err := getJSON(b, r.Fingerprint, &old)
		if err != nil {
			found = false // overwrite a corrupt record
		}
		rec := r
		rec.LastSeen = now
		rec.Count = 1 + extra
		rec.FirstSeen = now
		if found {
			rec.FirstSeen = old.FirstSeen
			rec.Count = old.Count + 1 + extra
			if rec.AuthorizedKey == "" {
				rec.AuthorizedKey = old.AuthorizedKey
			}
			if rec.KeyType == "" {
				rec.KeyType = old.KeyType
			}
		}
		if err := putJSON(b, r.Fingerprint, rec); err != nil {
			return err
		}
		if found || b.Stats().KeyN < refusedCap {
			return nil
		}
		return pruneRefused(b)
	})
}

// pruneRefused drops the least recently seen records beyond the cap.
func pruneRefused(b *bolt.Bucket) error {
	type seen struct {
		fp string
		t  time.Time
	}
	var all []seen
	err := b.ForEach(func(k, v []byte) error {
		var r RefusedKey
		if _, err := getJSON(b, string(k), &r); err != nil {
			all = append(all, seen{string(k), time.Time{}})
			return nil
		}
		all = append(all, seen{string(k), r.LastSeen})
		return nil
	})
	if err != nil || len(all) <= refusedCap {
		return err
	}
	sort.Slice(all, func(i, j int) bool { return all[i].t.Before(all[j].t) })
	for _, x := range all[:len(all)-refusedCap] {
		if err := b.Delete([]byte(x.fp)); err != nil {
			return err
		}
	}
	return nil
}

// RefusedKeys lists refused attempts, most recent first (manager).
func (s *Store) RefusedKeys(actor Actor) ([]RefusedKey, error) {
	out, err := readAll[RefusedKey](s, actor, ActionRefusedKeyRead, bRefused)
	sort.Slice(out, func(i, j int) bool { return out[i].LastSeen.After(out[j].LastSeen) })
	return out, err
}

// RecordSession ledgers a login or logout.
func (s *Store) RecordSession(actor Actor, action Action, remoteAddr string, details map[string]string) error {
	if action != ActionLogin && action != ActionLogout {
		return Invalid("action", "must be login or logout")
	}
	det := map[string]string{"remote": remoteAddr, "role": actor.Role.String()}
	for k, v := range details {
		if _, taken := det[k]; !taken {
			det[k] = v
		}
	}
	_, err := s.mutate(actor, action, actor.Fingerprint, func(tx *bolt.Tx) ([]draft, error) {
		return []draft{{Subject: actor.Fingerprint, Details: det}}, nil
	})
	return err
}
