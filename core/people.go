package core

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// People and their duties: who holds a key (name, 職名, 所属), how many
// managers there may be (000 §5-2: the head of the responsible section),
// and each person's confidentiality pledge (000 §11, 001 §3(5)), which
// binds them after they leave too.

// PledgeRecord is one accepted confidentiality pledge.
type PledgeRecord struct {
	Version    string    `json:"Version"`    // the profile's pledge version
	TextSHA256 string    `json:"TextSHA256"` // hash of the exact wording accepted
	At         time.Time `json:"At"`
	Witness    string    `json:"Witness"` // who recorded it (the enrolling manager)
}

// Enrolment is what a manager enters to enrol a person's key.
type Enrolment struct {
	Name          string
	Role          Role
	AuthorizedKey string
	JobTitle      string // 職名
	Section       string // 所属
	// Pledged: the person was shown the profile's pledge and accepted it.
	// Required for EnrollPerson from the console; EnrollKey leaves it out.
	Pledged bool
}

// pledgeHash is the hash recorded with an acceptance.
func pledgeHash(p Pledge) string {
	sum := sha256.Sum256([]byte(p.Version + "\n" + p.Text))
	return hex.EncodeToString(sum[:])
}

// requirePerson is EnrollPerson's rule for the console: a person's job
// title, section and accepted pledge are required. EnrollKey (bootstrap)
// skips it.
type personRule bool

const (
	personRequired personRule = true
	personOptional personRule = false
)

func (in *Enrolment) validate(rule personRule) error {
	if err := validName("name", in.Name, 128); err != nil {
		return err
	}
	if in.Role != RoleManager && in.Role != RoleOperator && in.Role != RoleTechnician {
		return Invalid("role", "only manager, operator or technician keys can be enrolled (viewers get a grant)")
	}
	in.JobTitle, in.Section = strings.TrimSpace(in.JobTitle), strings.TrimSpace(in.Section)
	if rule == personRequired {
		for _, f := range []struct{ n, v string }{{"job_title", in.JobTitle}, {"section", in.Section}} {
			if err := validName(f.n, f.v, 200); err != nil {
				return err
			}
		}
		if !in.Pledged {
			return Invalid("pledge", "the person must accept the confidentiality pledge before a key is enrolled")
		}
		return nil
	}
	for _, f := range []struct{ n, v string }{{"job_title", in.JobTitle}, {"section", in.Section}} {
		if err := validText(f.n, f.v, 200); err != nil {
			return err
		}
	}
	return nil
}

// EnrollPerson enrols a person's key with job title, section and the
// pledge they accepted (manager). The profile's manager limit holds. Only
// the system (the offline bootstrap with access to the data directory)
// may leave them out; the gaps are then warnings until recorded.
func (s *Store) EnrollPerson(actor Actor, in Enrolment) (Key, error) {
	rule := personRequired
	if ScopeOf(actor.Role).Bootstrap {
		rule = personOptional // the offline bootstrap
	}
	return s.enrollPerson(actor, in, rule)
}

func (s *Store) enrollPerson(actor Actor, in Enrolment, rule personRule) (Key, error) {
	if !Allowed(actor.Role, ActionKeyEnroll) {
		return Key{}, s.deny(actor, ActionKeyEnroll, in.Name)
	}
	if err := in.validate(rule); err != nil {
		return Key{}, err
	}
	pk, fp, line, err := ParseKey(in.AuthorizedKey)
	if err != nil {
		return Key{}, err
	}
	now := s.nowUTC()
	k := Key{Fingerprint: fp, Name: strings.TrimSpace(in.Name), Role: in.Role, PublicKey: line, Type: pk.Type(),
		EnrolledAt: now, EnrolledBy: actor.label(), JobTitle: in.JobTitle, Section: in.Section}
	if in.Pledged {
		k.Pledge = &PledgeRecord{Version: s.policy.Pledge.Version, TextSHA256: pledgeHash(s.policy.Pledge), At: now, Witness: actor.label()}
	}
	_, err = s.mutate(actor, ActionKeyEnroll, fp, func(tx *bolt.Tx) ([]draft, error) {
		b := tx.Bucket(bKeys)
		var old Key
		found, err := getJSON(b, fp, &old)
		if err != nil {
			return nil, err
		}
		if found && old.Active(now) {
			return nil, fmt.Errorf("%w: key %s is already enrolled as %s (%s)", ErrConflict, fp, old.Name, old.Role)
		}
		if in.Role == RoleManager {
			if err := s.managerRoom(b, now, fp); err != nil {
				return nil, err
			}
		}
		if err := putJSON(b, fp, k); err != nil {
			return nil, err
		}
		// An enrolled key is no longer a refused one.
		if err := tx.Bucket(bRefused).Delete([]byte(fp)); err != nil {
			return nil, err
		}
		det := map[string]string{"name": k.Name, "role": in.Role.String(), "type": k.Type}
		if k.JobTitle != "" || k.Section != "" {
			det["job_title"], det["section"] = k.JobTitle, k.Section
		}
		drafts := []draft{{Subject: fp, Details: det}}
		if k.Pledge != nil {
			drafts = append(drafts, draft{Action: ActionPledge, Subject: fp, Details: pledgeDetails(k.Name, *k.Pledge, s.policy.Pledge)})
		}
		return drafts, nil
	})
	if err != nil {
		return Key{}, err
	}
	s.refused.forget(fp)
	return k, nil
}

func pledgeDetails(name string, r PledgeRecord, p Pledge) map[string]string {
	return map[string]string{"name": name, "version": r.Version, "text_sha256": r.TextSHA256, "clause": p.Cite}
}

// managerRoom refuses another active manager when the profile limits
// them (city: exactly one, 000 §5-2). except is the key being changed.
func (s *Store) managerRoom(b *bolt.Bucket, now time.Time, except string) error {
	max := s.policy.MaxManagers
	if max <= 0 {
		return nil
	}
	n, err := activeManagers(b, now, except)
	if err != nil {
		return err
	}
	if n >= max {
		return fmt.Errorf("%w: the policy (%s) allows %d active %s; hand the role over instead (keys handover)",
			ErrConflict, s.policy.Regulation, max, s.policy.Terms.Manager)
	}
	return nil
}

// SetKeyProfile records or corrects a key's job title and section
// (manager), e.g. for keys enrolled before these were asked.
func (s *Store) SetKeyProfile(actor Actor, fingerprint, jobTitle, section string) (Key, error) {
	if !Allowed(actor.Role, ActionKeyProfile) {
		return Key{}, s.deny(actor, ActionKeyProfile, fingerprint)
	}
	jobTitle, section = strings.TrimSpace(jobTitle), strings.TrimSpace(section)
	for _, f := range []struct{ n, v string }{{"job_title", jobTitle}, {"section", section}} {
		if err := validName(f.n, f.v, 200); err != nil {
			return Key{}, err
		}
	}
	var out Key
	_, err := s.mutate(actor, ActionKeyProfile, fingerprint, func(tx *bolt.Tx) ([]draft, error) {
		k, err := activeKey(tx, fingerprint, s.nowUTC())
		if err != nil {
			return nil, err
		}
		if k.JobTitle == jobTitle && k.Section == section {
			out = k
			return nil, nil
		}
		det := map[string]string{"name": k.Name, "job_title": k.JobTitle + " -> " + jobTitle, "section": k.Section + " -> " + section}
		k.JobTitle, k.Section = jobTitle, section
		if err := putJSON(tx.Bucket(bKeys), fingerprint, k); err != nil {
			return nil, err
		}
		out = k
		return []draft{{Subject: fingerprint, Details: det}}, nil
	})
	return out, err
}

// RecordPledge records that the key's holder accepted the current
// confidentiality pledge (manager), e.g. for a key enrolled before pledges
// were asked or after the wording changed.
func (s *Store) RecordPledge(actor Actor, fingerprint string) (Key, error) {
	if !Allowed(actor.Role, ActionPledge) {
		return Key{}, s.deny(actor, ActionPledge, fingerprint)
	}
	now := s.nowUTC()
	var out Key
	_, err := s.mutate(actor, ActionPledge, fingerprint, func(tx *bolt.Tx) ([]draft, error) {
		k, err := activeKey(tx, fingerprint, now)
		if err != nil {
			return nil, err
		}
		if k.Pledge != nil && k.Pledge.Version == s.policy.Pledge.Version && k.Pledge.TextSHA256 == pledgeHash(s.policy.Pledge) {
			return nil, fmt.Errorf("%w: %s has already accepted pledge %s", ErrConflict, k.Name, k.Pledge.Version)
		}
		k.Pledge = &PledgeRecord{Version: s.policy.Pledge.Version, TextSHA256: pledgeHash(s.policy.Pledge), At: now, Witness: actor.label()}
		if err := putJSON(tx.Bucket(bKeys), fingerprint, k); err != nil {
			return nil, err
		}
		out = k
		return []draft{{Subject: fingerprint, Details: pledgeDetails(k.Name, *k.Pledge, s.policy.Pledge)}}, nil
	})
	return out, err
}

// HandOverManager makes another person's active key the manager and
// revokes the handing-over manager's own key, in one transaction, so a
// profile with exactly one manager always has one (000 §5-2).
func (s *Store) HandOverManager(actor Actor, toFingerprint, reason string) (Key, error) {
	if _, err := s.authorize(actor, ActionKeyRoleChange, toFingerprint); err != nil {
		return Key{}, err
	}
	if err := validName("reason", reason, 1000); err != nil {
		return Key{}, err
	}
	now := s.nowUTC()
	var out Key
	_, err := s.mutate(actor, ActionKeyRoleChange, toFingerprint, func(tx *bolt.Tx) ([]draft, error) {
		to, err := activeKey(tx, toFingerprint, now)
		if err != nil {
			return nil, err
		}
		if to.Fingerprint == actor.Fingerprint {
			return nil, fmt.Errorf("%w: a manager cannot hand over to their own key", ErrConflict)
		}
		if to.Role == RoleViewer || to.Role == RoleManager {
			return nil, fmt.Errorf("%w: %s is %s; hand over to an operator or technician key", ErrConflict, to.Name, to.Role)
		}
		if gaps := s.policy.PersonGaps(to); len(gaps) > 0 {
			return nil, Invalid("to", "record "+to.Name+"'s "+strings.Join(gaps, ", ")+" first (staff set, staff pledge)")
		}
		from, err := activeKey(tx, actor.Fingerprint, now)
		if err != nil {
			return nil, err
		}
		b := tx.Bucket(bKeys)
		old := to.Role
		to.Role = RoleManager
		from.RevokedAt = now
		if err := putJSON(b, to.Fingerprint, to); err != nil {
			return nil, err
		}
		if err := putJSON(b, from.Fingerprint, from); err != nil {
			return nil, err
		}
		out = to
		return []draft{
			{Subject: to.Fingerprint, Details: map[string]string{"name": to.Name, "from": old.String(), "to": RoleManager.String(),
				"handover_from": from.Name, "reason": reason}},
			{Action: ActionKeyRevoke, Subject: from.Fingerprint, Details: map[string]string{"name": from.Name,
				"role": from.Role.String(), "reason": "handed over to " + to.Name + ": " + reason}},
		}, nil
	})
	return out, err
}

func activeKey(tx *bolt.Tx, fingerprint string, now time.Time) (Key, error) {
	var k Key
	found, err := getJSON(tx.Bucket(bKeys), fingerprint, &k)
	if err != nil {
		return k, err
	}
	if !found || !k.Active(now) {
		return k, notFound("active key", fingerprint)
	}
	return k, nil
}

// PersonGaps lists what a key's record lacks (job title, section, a
// pledge of the current wording); empty when complete. Viewers carry none.
func (p Policy) PersonGaps(k Key) []string {
	if k.Role == RoleViewer {
		return nil
	}
	var out []string
	if k.JobTitle == "" {
		out = append(out, "job_title")
	}
	if k.Section == "" {
		out = append(out, "section")
	}
	if k.Pledge == nil {
		out = append(out, "pledge")
	} else if k.Pledge.Version != p.Pledge.Version || k.Pledge.TextSHA256 != pledgeHash(p.Pledge) {
		out = append(out, "pledge-outdated")
	}
	return out
}

// personOf returns the key record behind an actor (revoked or not), so a
// step can keep the person's 職名 and 所属 as they were at the time.
func personOf(tx *bolt.Tx, fingerprint string) (Key, bool) {
	var k Key
	found, err := getJSON(tx.Bucket(bKeys), fingerprint, &k)
	return k, found && err == nil
}
