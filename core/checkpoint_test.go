package core

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/crypto/ssh"
	"golang.org/x/mod/sumdb/tlog"
)

func newHostKey(t testing.TB) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// signedStore is a store whose checkpoints host signs.
func signedStore(t *testing.T, host ssh.Signer) (*Store, string) {
	t.Helper()
	s, _, path := newTestStore(t, CityStandard())
	if err := s.SetLogSigner("yotsukaido 1+", host); err != nil {
		t.Fatal(err)
	}
	return s, path
}

// addEntries appends n people's entries (logins of varied operators).
func addEntries(t *testing.T, s *Store, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		a := Actor{Fingerprint: fmt.Sprintf("SHA256:op%d", i%7), Name: fmt.Sprintf("Operator %d", i%7), Role: RoleOperator}
		if err := s.RecordSession(a, ActionLogin, fmt.Sprintf("10.0.0.%d:22", i%250), nil); err != nil {
			t.Fatal(err)
		}
	}
}

func checkpointNow(t *testing.T, s *Store) Checkpoint {
	t.Helper()
	cp, err := s.Checkpoint(manager)
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

func TestCheckpointSignsTheTree(t *testing.T) {
	host := newHostKey(t)
	s, _ := signedStore(t, host)
	addEntries(t, s, 37)
	cp := checkpointNow(t, s)
	if cp.Size != 37 || cp.Origin != "mimamori/yotsukaido_1_" || cp.Fingerprint != ssh.FingerprintSHA256(host.PublicKey()) {
		t.Fatalf("checkpoint %+v", cp)
	}
	text := string(cp.Text)
	if !strings.HasPrefix(text, "mimamori/yotsukaido_1_\n37\n") || !strings.Contains(text, "\ntime 2026-") || !strings.Contains(text, "\n\n— mimamori/yotsukaido_1_ ") {
		t.Fatalf("checkpoint text:\n%s", text)
	}
	got, err := ParseCheckpoint(cp.Text, host.PublicKey())
	if err != nil || got.Size != cp.Size || got.Root != cp.Root || !got.Time.Equal(cp.Time) {
		t.Fatalf("parse: %+v %v", got, err)
	}
	// The root is the RFC 6962 hash of the stored entries.
	var f frontier
	_ = s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bLedger).ForEach(func(_, v []byte) error { f.add(v, nil); return nil })
	})
	if f.root() != cp.Root {
		t.Fatal("checkpoint root is not the tree of the stored entries")
	}
	// Another key, an edited body, a truncated note: refused.
	if _, err := ParseCheckpoint(cp.Text, newHostKey(t).PublicKey()); err == nil || !strings.Contains(err.Error(), "not signed by this appliance's key") {
		t.Errorf("other key: %v", err)
	}
	edited := strings.Replace(text, "\n37\n", "\n38\n", 1)
	if _, err := ParseCheckpoint([]byte(edited), host.PublicKey()); err == nil {
		t.Error("edited checkpoint accepted")
	}
	for i := 0; i < len(text); i += 7 {
		ParseCheckpoint([]byte(text[:i]), host.PublicKey()) // never panics
	}
	// Unsigned stores say so.
	s2, _, _ := newTestStore(t, CityStandard())
	if _, err := s2.Checkpoint(manager); err == nil {
		t.Error("a checkpoint without a key")
	}
	if _, err := s.Checkpoint(operator); err == nil {
		t.Error("an operator got a checkpoint")
	}
}

func TestInclusionAndConsistencyProofs(t *testing.T) {
	host := newHostKey(t)
	s, _ := signedStore(t, host)
	addEntries(t, s, 50)
	old := checkpointNow(t, s)
	addEntries(t, s, 73)
	cp, proofs, err := s.InclusionProofs(manager, []uint64{1, 17, 50, 123})
	if err != nil || cp.Size != 123 {
		t.Fatalf("proofs: %v %+v", err, cp)
	}
	parsed, err := ParseCheckpoint(cp.Text, host.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range proofs {
		if err := VerifyEntryProof(parsed, p); err != nil {
			t.Errorf("entry %d: %v", p.Seq, err)
		}
		if e, err := p.Decode(); err != nil || e.Seq != p.Seq {
			t.Errorf("decode %d: %+v %v", p.Seq, e, err)
		}
	}
	bad := proofs[1]
	bad.Entry = append([]byte(nil), bad.Entry...)
	bad.Entry[60] ^= 1
	if err := VerifyEntryProof(parsed, bad); err == nil {
		t.Error("an edited entry passes its inclusion proof")
	}
	swapped := proofs[1]
	swapped.Seq = 18
	if err := VerifyEntryProof(parsed, swapped); err == nil {
		t.Error("a proof for the wrong seq passes")
	}
	if _, _, err := s.InclusionProofs(manager, []uint64{124}); err == nil {
		t.Error("proof of an entry beyond the tree")
	}
	p, err := s.ConsistencyProof(manager, old.Size, cp.Size)
	if err != nil {
		t.Fatal(err)
	}
	if err := tlog.CheckTree(p, int64(cp.Size), cp.Root, int64(old.Size), old.Root); err != nil {
		t.Errorf("consistency 50→123: %v", err)
	}
}

// forgeLedger rewrites the ledger of a closed database the way a careful
// insider with write access would: entries edited by edit, then every
// hash, link, tree hash and the head recomputed, so the file is
// consistent with itself.
func forgeLedger(t *testing.T, path string, edit func([]Entry) []Entry) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		var es []Entry
		if err := tx.Bucket(bLedger).ForEach(func(_, v []byte) error {
			e, err := decodeEntry(v)
			es = append(es, e)
			return err
		}); err != nil {
			return err
		}
		es = edit(es)
		for _, b := range [][]byte{bLedger, bTlog} {
			if err := tx.DeleteBucket(b); err != nil {
				return err
			}
			if _, err := tx.CreateBucket(b); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bMeta).Delete(kLedgerHead); err != nil {
			return err
		}
		for _, e := range es {
			if _, err := appendEntryAt(tx, e.Time, e.Actor, e.Action, e.Subject, e.Details); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCheckpointsCatchARewrittenLedger is issue 10's first "must show":
// on a real database file, each kind of damage done with every hash
// recomputed passes a verification without checkpoints (which says it
// cannot know more) and fails against a checkpoint taken before.
func TestCheckpointsCatchARewrittenLedger(t *testing.T) {
	cases := []struct {
		name, first string // first checkpoint to fail
		edit        func([]Entry) []Entry
	}{
		{"entry rewritten", "early.txt", func(es []Entry) []Entry {
			es[40].Actor = Actor{Fingerprint: "SHA256:someone-else", Name: "Someone Else", Role: RoleOperator}
			return es
		}},
		{"last 100 deleted", "late.txt", func(es []Entry) []Entry { return es[:len(es)-100] }},
		{"emptied", "early.txt", func([]Entry) []Entry { return nil }},
		{"entry inserted", "early.txt", func(es []Entry) []Entry {
			ins := es[10]
			ins.Subject = "inserted"
			return append(es[:11:11], append([]Entry{ins}, es[11:]...)...)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			host := newHostKey(t)
			s, path := signedStore(t, host)
			addEntries(t, s, 120)
			early := checkpointNow(t, s) // 120 entries
			addEntries(t, s, 130)
			late := checkpointNow(t, s) // 250 entries
			addEntries(t, s, 5)
			s.Close()
			cps := []NamedCheckpoint{{Name: "early.txt", Text: early.Text}, {Name: "late.txt", Text: late.Text}}
			o := VerifyOptions{Checkpoints: cps, HostKey: host.PublicKey()}
			if rep, err := VerifyLedgerFile(path, o); err != nil || !rep.OK || rep.FirstFailed() != nil {
				t.Fatalf("before the damage: %+v %v", rep, err)
			}

			forgeLedger(t, path, tc.edit)

			rep, err := VerifyLedgerFile(path, VerifyOptions{})
			if err != nil || !rep.OK {
				t.Fatalf("the forgery is not even self-consistent (the test's attacker is too weak): %+v %v", rep, err)
			}
			rep, err = VerifyLedgerFile(path, o)
			if err != nil {
				t.Fatal(err)
			}
			f := rep.FirstFailed()
			if rep.OK || f == nil {
				t.Fatalf("damage not detected against the checkpoints: %+v", rep)
			}
			if f.Name != tc.first || f.Problem == "" {
				t.Errorf("first failing checkpoint %+v, want %s", f, tc.first)
			}
			if rep.Checkpoints[1].OK {
				t.Errorf("late.txt still holds: %+v", rep.Checkpoints[1])
			}
			t.Logf("%s: %s", f.Name, f.Problem)
		})
	}
}

// TestCheckpointNamesTheFirstFailing: damage between two checkpoints
// leaves the older one holding and names the newer.
func TestCheckpointNamesTheFirstFailing(t *testing.T) {
	host := newHostKey(t)
	s, path := signedStore(t, host)
	addEntries(t, s, 30)
	a := checkpointNow(t, s)
	addEntries(t, s, 30)
	b := checkpointNow(t, s)
	addEntries(t, s, 30)
	c := checkpointNow(t, s)
	s.Close()
	forgeLedger(t, path, func(es []Entry) []Entry {
		es[45].Subject = "rewritten"
		return es
	})
	rep, err := VerifyLedgerFile(path, VerifyOptions{HostKey: host.PublicKey(), Checkpoints: []NamedCheckpoint{
		{Name: "a", Text: a.Text}, {Name: "b", Text: b.Text}, {Name: "c", Text: c.Text}}})
	if err != nil {
		t.Fatal(err)
	}
	if f := rep.FirstFailed(); rep.OK || f == nil || f.Name != "b" || !rep.Checkpoints[0].OK || rep.Checkpoints[2].OK {
		t.Fatalf("report %+v", rep)
	}
	// A checkpoint from another appliance (another key) fails too.
	other := newHostKey(t)
	s2, _ := signedStore(t, other)
	addEntries(t, s2, 3)
	rep, _ = VerifyLedgerFile(path, VerifyOptions{HostKey: host.PublicKey(), Checkpoints: []NamedCheckpoint{
		{Name: "foreign", Text: checkpointNow(t, s2).Text}}})
	if f := rep.FirstFailed(); f == nil || !strings.Contains(f.Problem, "not signed by this appliance's key") {
		t.Errorf("foreign checkpoint: %+v", rep)
	}
}

// TestStandingCheckCatchesRewrites: the console's check re-reads the
// verified prefix's root, so a rewrite below the watermark with every
// hash recomputed is caught without re-reading the ledger.
func TestStandingCheckCatchesRewrites(t *testing.T) {
	s, _ := signedStore(t, newHostKey(t))
	addEntries(t, s, 40)
	if rep, err := s.ChainStatus(manager); err != nil || !rep.OK || rep.Entries != 40 {
		t.Fatalf("standing check: %+v %v", rep, err)
	}
	addEntries(t, s, 3)
	if rep, _ := s.ChainStatus(manager); !rep.OK || rep.Entries != 43 {
		t.Fatalf("after 3 more: %+v", rep)
	}
	// Rewrite entry 5 and everything after it, consistently, in place.
	err := s.db.Update(func(tx *bolt.Tx) error {
		var es []Entry
		_ = tx.Bucket(bLedger).ForEach(func(_, v []byte) error { e, _ := decodeEntry(v); es = append(es, e); return nil })
		es[4].Subject = "rewritten"
		for _, b := range [][]byte{bLedger, bTlog} {
			_ = tx.DeleteBucket(b)
			_, _ = tx.CreateBucket(b)
		}
		_ = tx.Bucket(bMeta).Delete(kLedgerHead)
		for _, e := range es {
			if _, err := appendEntryAt(tx, e.Time, e.Actor, e.Action, e.Subject, e.Details); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := s.ChainStatus(manager)
	if err != nil || rep.OK || !strings.Contains(rep.Problem, "no longer those verified") {
		t.Fatalf("rewrite not caught by the standing check: %+v %v", rep, err)
	}
	// Sticky until a full verification, which (self-consistent) clears it.
	if rep, _ := s.ChainStatus(manager); rep.OK {
		t.Fatal("broken status did not stick")
	}
	if rep, _ := s.VerifyLedger(manager); !rep.OK {
		t.Fatalf("full verification: %+v", rep)
	}
	if rep, _ := s.ChainStatus(manager); !rep.OK {
		t.Fatalf("after a full verification: %+v", rep)
	}
}

// TestStandingCheckWaitsForTheFirstPass: a ledger longer than one chunk
// is verified in the background after Open; until then the standing
// check says so and how far it got.
func TestStandingCheckWaitsForTheFirstPass(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mimamori.db")
	s, err := Open(path, Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	addEntries(t, s, 60)
	s.Close()
	old := verifyChunk
	verifyChunk = 7
	t.Cleanup(func() { verifyChunk = old })
	s, err = Open(path, Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.bg.Wait() // the background pass ends
	rep, err := s.ChainStatus(manager)
	if err != nil || !rep.OK || rep.Entries != 60 || rep.Pending {
		t.Fatalf("after the first pass: %+v %v", rep, err)
	}
	if d, tot := s.watch.done.Load(), s.watch.total.Load(); d != 60 || tot != 60 {
		t.Errorf("progress %d/%d", d, tot)
	}
}

// TestPrintedAnchorsCatchARewrite: the size and short root printed on
// forms and receipts (unsigned) are enough to show, later, that the
// ledger's history before them was rewritten.
func TestPrintedAnchorsCatchARewrite(t *testing.T) {
	s, path := signedStore(t, newHostKey(t))
	addEntries(t, s, 50)
	cp := checkpointNow(t, s)
	addEntries(t, s, 10)
	s.Close()
	printed := fmt.Sprintf("%d:%s", cp.Size, cp.ShortRoot())
	a, err := ParseAnchor(printed)
	if err != nil {
		t.Fatal(err)
	}
	full, err := ParseAnchor(fmt.Sprintf("%d:%s", cp.Size, cp.Root.String()))
	if err != nil || len(full.Root) != tlog.HashSize {
		t.Fatalf("base64 root: %+v %v", full, err)
	}
	for _, bad := range []string{"50", "x:abcd", "50:abcd", "50:zz"} {
		if _, err := ParseAnchor(bad); err == nil {
			t.Errorf("anchor %q accepted", bad)
		}
	}
	o := VerifyOptions{Anchors: []Anchor{a, full}}
	if rep, err := VerifyLedgerFile(path, o); err != nil || !rep.OK || len(rep.Checkpoints) != 2 || rep.FirstFailed() != nil {
		t.Fatalf("untouched ledger against its printed anchor: %+v %v", rep, err)
	}
	forgeLedger(t, path, func(es []Entry) []Entry {
		es[20].Subject = "rewritten"
		return es
	})
	rep, err := VerifyLedgerFile(path, o)
	if err != nil {
		t.Fatal(err)
	}
	if f := rep.FirstFailed(); rep.OK || f == nil || f.Name != "anchor "+printed || !strings.Contains(f.Problem, "history was rewritten") {
		t.Fatalf("rewrite not caught by the printed anchor: %+v", rep)
	}
	forgeLedger(t, path, func(es []Entry) []Entry { return es[:30] })
	rep, _ = VerifyLedgerFile(path, o)
	if f := rep.FirstFailed(); rep.OK || f == nil || !strings.Contains(f.Problem, "entries were removed") {
		t.Fatalf("truncation not caught by the printed anchor: %+v", rep)
	}
}
