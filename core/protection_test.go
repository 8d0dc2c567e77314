package core

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	bolt "go.etcd.io/bbolt"
)

// The manager gets a fresh secret once; the appliance keeps only its
// public half, the ledger says which way the package is protected.
func TestProtectPackageSecret(t *testing.T) {
	s, _ := newExportStore(t)
	r := approvedRequest(t, s) // protected once already
	k, err := s.ProtectPackage(manager, r.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	id, err := age.ParseX25519Identity(k.Secret)
	if err != nil {
		t.Fatalf("secret %q: %v", k.Secret, err)
	}
	p := k.Request.Protection
	if p == nil || p.Method != ProtectApprovalSecret || p.Recipient != id.Recipient().String() || p.By != manager.Name {
		t.Fatalf("protection %+v", p)
	}
	if p.Recipient == r.Protection.Recipient {
		t.Fatal("protecting again did not make a fresh secret")
	}
	e := lastEntry(t, s)
	if e.Action != ActionRequestProtect || e.Details["method"] != ProtectApprovalSecret || e.Details["replaced"] != "true" {
		t.Fatalf("entry %+v", e)
	}
	// The secret is nowhere in the database file.
	secretPart := strings.TrimPrefix(k.Secret, "AGE-SECRET-KEY-1")
	err = s.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error {
				if bytes.Contains(v, []byte(secretPart)) {
					t.Errorf("secret stored in bucket %s key %s", name, k)
				}
				return nil
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	// Operators may not choose; nor may anyone once exported.
	if _, err := s.ProtectPackage(operator, r.ID, ""); !errors.Is(err, ErrForbidden) {
		t.Fatalf("operator: %v", err)
	}
	if _, err := s.ExportRequest(context.Background(), operator, r.ID, []byte(exportPass), t.TempDir(), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ProtectPackage(manager, r.ID, ""); !errors.Is(err, ErrConflict) {
		t.Fatalf("after export: %v", err)
	}
}

// A recipient's key, named at approval or at registration, is used as is.
func TestProtectPackageRecipientKey(t *testing.T) {
	s, fe := newExportStore(t)
	r := approvedRequest(t, s)
	key := newAuthorizedKey(t, "police@example")
	k, err := s.ProtectPackage(manager, r.ID, key)
	if err != nil {
		t.Fatal(err)
	}
	p := k.Request.Protection
	if k.Secret != "" || p.Method != ProtectRecipientKey || !strings.HasPrefix(p.Recipient, "ssh-ed25519 ") ||
		!strings.HasPrefix(p.KeyID, "SHA256:") || strings.Contains(p.Recipient, "police@example") {
		t.Fatalf("recipient protection %+v, secret %q", p, k.Secret)
	}
	if _, err := s.ProtectPackage(manager, r.ID, "ssh-ed25519 AAAAnot-a-key"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad key: %v", err)
	}
	if _, err := s.ExportRequest(context.Background(), operator, r.ID, []byte(exportPass), t.TempDir(), nil); err != nil {
		t.Fatal(err)
	}
	if j := fe.jobs[len(fe.jobs)-1]; j.Protection != ProtectRecipientKey || j.Recipients[0] != p.Recipient {
		t.Fatalf("job %+v", j)
	}

	// Named at registration by a manager: the default at approval.
	idt, _ := age.GenerateX25519Identity()
	in := requestInput("cam1")
	in.RecipientKey = "  " + idt.Recipient().String() + "\n"
	r2, err := s.RegisterRequest(manager, in)
	if err != nil {
		t.Fatal(err)
	}
	if r2.RecipientKey != idt.Recipient().String() {
		t.Fatalf("registered key %q", r2.RecipientKey)
	}
	for _, step := range []func() error{
		func() error { _, err := s.InstructSearch(manager, r2.ID, operator.Name); return err },
		func() error {
			_, err := s.RecordResult(operator, r2.ID, "found", "", whole(t, s, r2.ID)...)
			return err
		},
		func() error { _, err := s.Approve(manager, r2.ID, okJudgement); return err },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	k2, err := s.ProtectPackage(manager, r2.ID, "")
	if err != nil || k2.Secret != "" || k2.Request.Protection.Recipient != idt.Recipient().String() {
		t.Fatalf("registered key not used: %+v %v", k2, err)
	}
	bad := requestInput("cam1")
	bad.RecipientKey = "age1qqqq"
	if _, err := s.RegisterRequest(operator, bad); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad registered key: %v", err)
	}
}

// The export passphrase is the manager's lock: required while set,
// gone once cleared.
func TestExportPassphraseLock(t *testing.T) {
	s, _ := newExportStore(t)
	r := approvedRequest(t, s)
	if _, err := s.ExportRequest(context.Background(), operator, r.ID, nil, t.TempDir(), nil); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("locked export without the passphrase: %v", err)
	}
	if err := s.ClearExportPassphrase(operator); !errors.Is(err, ErrForbidden) {
		t.Fatalf("operator clears: %v", err)
	}
	if err := s.ClearExportPassphrase(manager); err != nil {
		t.Fatal(err)
	}
	if e := lastEntry(t, s); e.Action != ActionExportPassphrase || e.Details["cleared"] != "true" {
		t.Fatalf("entry %+v", e)
	}
	if err := s.ClearExportPassphrase(manager); !errors.Is(err, ErrConflict) {
		t.Fatalf("clear twice: %v", err)
	}
	dir := t.TempDir()
	out, err := s.ExportRequest(context.Background(), operator, r.ID, nil, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(out.Export.Path); err != nil {
		t.Fatal(err)
	}
}

// An operator cannot choose the key a package opens with: a key named at
// registration by anyone but a manager is kept on the request but not
// used until a manager gives it, and a key enrolled on this appliance
// (the operator's own login key) is no recipient at all. Otherwise the
// operator who exports could name their own key and open the package.
func TestOperatorCannotChooseThePackageKey(t *testing.T) {
	s, fe := newExportStore(t)
	opKey := newAuthorizedKey(t, "operator's own")
	enrolled, err := s.EnrollPerson(manager, Enrolment{Name: "Operator Own Key", Role: RoleOperator, AuthorizedKey: opKey,
		JobTitle: "主事", Section: "防犯課", Pledged: true})
	if err != nil {
		t.Fatal(err)
	}
	in := requestInput("cam1")
	in.RecipientKey = opKey
	if _, err := s.RegisterRequest(operator, in); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), enrolled.Name) {
		t.Fatalf("registration with an enrolled key as recipient: %v", err)
	}

	// A key nobody here knows, named by the operator who registers.
	idt, _ := age.GenerateX25519Identity()
	in.RecipientKey = idt.Recipient().String()
	r, err := s.RegisterRequest(operator, in)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.InstructSearch(manager, r.ID, operator.Name); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordResult(operator, r.ID, "found", "", whole(t, s, r.ID)...); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Approve(manager, r.ID, okJudgement); err != nil {
		t.Fatal(err)
	}
	k, err := s.ProtectPackage(manager, r.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if k.Secret == "" || k.Request.Protection.Method != ProtectApprovalSecret || k.Request.Protection.Recipient == idt.Recipient().String() {
		t.Fatalf("the operator's key was used: %+v", k.Request.Protection)
	}
	if k.UnusedKey == "" || k.UnusedKeyBy != operator.Name {
		t.Fatalf("the manager is not told of the key left unused: %+v", k)
	}
	if e := lastEntry(t, s); e.Details["registered_key_unused"] == "" {
		t.Fatalf("entry %+v", e)
	}
	// The manager may still choose it, by giving it; never an enrolled key.
	if _, err := s.ProtectPackage(manager, r.ID, opKey); !errors.Is(err, ErrInvalid) {
		t.Fatalf("protect with an enrolled key: %v", err)
	}
	k, err = s.ProtectPackage(manager, r.ID, idt.Recipient().String())
	if err != nil || k.Secret != "" || k.Request.Protection.Recipient != idt.Recipient().String() {
		t.Fatalf("manager's choice: %+v %v", k.Request.Protection, err)
	}
	if _, err := s.ExportRequest(context.Background(), operator, r.ID, []byte(exportPass), t.TempDir(), nil); err != nil {
		t.Fatal(err)
	}
	if j := fe.jobs[len(fe.jobs)-1]; j.Recipients[0] != idt.Recipient().String() {
		t.Fatalf("job %+v", j)
	}
}

// Guessing the manager's export lock: one console session can submit the
// export form any number of times (and a script can open a session every
// few seconds), each wrong guess a ledger entry. After a few wrong
// passphrases in a row a key is made to wait, doubling, and while it
// waits nothing is checked (the right passphrase is refused too) and the
// refusals are coalesced. Another key — the manager's — is not held up.
func TestExportPassphraseGuessingWaits(t *testing.T) {
	s, clk := newExportStoreClock(t)
	r := approvedRequest(t, s)
	ctx := context.Background()
	// Parallel sessions of one key first, then one after another.
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.ExportRequest(ctx, operator, r.ID, []byte(fmt.Sprintf("parallel guess %d", i)), t.TempDir(), nil)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, ErrForbidden) {
			t.Fatalf("parallel guess: %v", err)
		}
	}
	for i := range 30 {
		_, err := s.ExportRequest(ctx, operator, r.ID, []byte(fmt.Sprintf("guess %d", i)), t.TempDir(), nil)
		if !errors.Is(err, ErrForbidden) {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	if n := len(entriesOf(t, s, ActionRequestExportFailed)); n > passFreeTries {
		t.Fatalf("50 wrong guesses in a row wrote %d export-failed entries (checked %d), want ≤ %d", n, n, passFreeTries)
	}
	if _, err := s.ExportRequest(ctx, operator, r.ID, []byte(exportPass), t.TempDir(), nil); !errors.Is(err, ErrForbidden) {
		t.Fatalf("the right passphrase was checked while the key waits: %v", err)
	}
	// The manager's key is another key: not held up.
	if _, err := s.ExportRequest(ctx, manager, r.ID, []byte("manager typo"), t.TempDir(), nil); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("manager's attempt during the operator's wait: %v", err)
	}
	clk.Advance(passBackoff + time.Second)
	if _, err := s.ExportRequest(ctx, operator, r.ID, []byte(exportPass), t.TempDir(), nil); err != nil {
		t.Fatalf("after the wait, the right passphrase: %v", err)
	}
}
