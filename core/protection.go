package core

import (
	"fmt"
	"strings"
	"time"

	"filippo.io/age"
	"filippo.io/age/agessh"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/crypto/ssh"
)

// How a package is protected (000 §7-4: the manager holds the password;
// 001 §5-2: copies only with prior approval). Each approved request gets
// its own key: either a fresh secret only the manager sees, once, and
// hands (printed) to the recipient, or the recipient's own public key.
// The appliance keeps only the public half, so the operator who carries
// out the export never knows how to open it.
const (
	ProtectApprovalSecret = "approval-secret" // a fresh age X25519 identity per request; the manager got the secret
	ProtectRecipientKey   = "recipient-key"   // the recipient's age or SSH public key
)

// PackageProtection is what an approved request's package is encrypted to.
type PackageProtection struct {
	Method    string    `json:"Method"`    // ProtectApprovalSecret or ProtectRecipientKey
	Recipient string    `json:"Recipient"` // age recipient (age1…) or SSH public key line: public only
	KeyID     string    `json:"KeyID"`     // short name for people: the SSH fingerprint, or the age recipient's start
	By        string    `json:"By"`
	At        time.Time `json:"At"`
}

// PackageKey is the answer of ProtectPackage: the protection stored and,
// for a fresh secret, the secret itself. The secret exists only here: it
// is shown to the manager once and never stored.
type PackageKey struct {
	Request Request
	Secret  string // AGE-SECRET-KEY-1…; "" when encrypted to a recipient's key
	// UnusedKey is the id of a recipient key named at registration by
	// someone other than a manager (UnusedKeyBy), left unused: only a
	// manager chooses what a package opens with.
	UnusedKey, UnusedKeyBy string
}

// recipientNotStaff refuses a recipient key that is enrolled on this
// appliance (any role, current or past): a package goes to its outside
// recipient, never to a person who can fetch it from the appliance.
func recipientNotStaff(tx *bolt.Tx, key string) error {
	_, kid, err := ParseRecipientKey(key)
	if err != nil || !strings.HasPrefix(kid, "SHA256:") {
		return err
	}
	var k Key
	found, err := getJSON(tx.Bucket(bKeys), kid, &k)
	if err != nil || !found {
		return err
	}
	return Invalid("recipient_key", fmt.Sprintf("%s is the key of %s (%s), enrolled on this appliance: a package is encrypted to its outside recipient", kid, k.Name, k.Role))
}

// ParseRecipientKey checks an age recipient (age1…) or an SSH public key
// (ssh-ed25519, ssh-rsa) that packages can be encrypted to, and returns
// its normal form and a short id for people.
func ParseRecipientKey(s string) (normal, keyID string, err error) {
	s = strings.TrimSpace(s)
	if len(s) > 16<<10 {
		return "", "", Invalid("recipient_key", "longer than 16 KiB")
	}
	if strings.HasPrefix(s, "age1") {
		r, err := age.ParseX25519Recipient(s)
		if err != nil {
			return "", "", Invalid("recipient_key", err.Error())
		}
		normal = r.String()
		return normal, normal[:16] + "…", nil
	}
	pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(s))
	if err != nil {
		return "", "", Invalid("recipient_key", "not an age recipient (age1…) or an SSH public key")
	}
	normal = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk)))
	if _, err := agessh.ParseRecipient(normal); err != nil {
		return "", "", Invalid("recipient_key", err.Error())
	}
	return normal, ssh.FingerprintSHA256(pk), nil
}

// ProtectPackage decides what an approved request's package will be
// encrypted to (manager). With recipientKey, or else the key a manager
// named at registration, it is that key; otherwise a fresh age identity
// is made and its secret returned once. A key an operator named at
// registration is not used (PackageKey.UnusedKey says so): the operator
// exports and fetches the package, so they must not choose its key. A
// key enrolled on this appliance is never a recipient. It may be done again until the package
// is exported (a lost secret is replaced; the old one then opens
// nothing), and is ledgered without the secret.
func (s *Store) ProtectPackage(actor Actor, id, recipientKey string) (PackageKey, error) {
	if !Allowed(actor.Role, ActionRequestProtect) {
		return PackageKey{}, s.deny(actor, ActionRequestProtect, id)
	}
	var p PackageProtection
	var secret string
	if strings.TrimSpace(recipientKey) != "" {
		n, kid, err := ParseRecipientKey(recipientKey)
		if err != nil {
			return PackageKey{}, err
		}
		p = PackageProtection{Method: ProtectRecipientKey, Recipient: n, KeyID: kid}
	}
	now := s.nowUTC()
	var out PackageKey
	_, err := s.mutate(actor, ActionRequestProtect, id, func(tx *bolt.Tx) ([]draft, error) {
		r, err := getRequest(tx, id)
		if err != nil {
			return nil, err
		}
		if r.State != StateApproved {
			return nil, stateConflict(r, "choose how its package is protected")
		}
		q := p
		if q.Method != "" {
			if err := recipientNotStaff(tx, q.Recipient); err != nil {
				return nil, err
			}
		}
		unused := ""
		if q.Method == "" && r.RecipientKey != "" {
			n, kid, err := ParseRecipientKey(r.RecipientKey)
			if err != nil {
				return nil, err
			}
			if r.RecipientKeyByManager && recipientNotStaff(tx, n) == nil {
				q = PackageProtection{Method: ProtectRecipientKey, Recipient: n, KeyID: kid}
			} else {
				unused = kid
			}
		}
		secret = ""
		if q.Method == "" {
			idt, err := age.GenerateX25519Identity()
			if err != nil {
				return nil, fmt.Errorf("package secret: %w", err)
			}
			rc := idt.Recipient().String()
			q = PackageProtection{Method: ProtectApprovalSecret, Recipient: rc, KeyID: rc[:16] + "…"}
			secret = idt.String()
		}
		q.By, q.At = actor.label(), now
		det := map[string]string{"method": q.Method, "recipient": q.KeyID, "replaced": fmt.Sprint(r.Protection != nil)}
		if unused != "" {
			det["registered_key_unused"] = unused
		}
		r.Protection = &q
		if err := putRequest(tx, r); err != nil {
			return nil, err
		}
		out = PackageKey{Request: r, Secret: secret}
		if unused != "" {
			out.UnusedKey, out.UnusedKeyBy = unused, r.CreatedBy
		}
		return []draft{{Subject: id, Details: det}}, nil
	})
	if err != nil {
		return PackageKey{}, err
	}
	return out, nil
}
