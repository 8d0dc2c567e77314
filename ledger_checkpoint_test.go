package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/crypto/ssh"
	"golang.org/x/mod/sumdb/tlog"

	"mimamori/appliance"
	"mimamori/config"
	"mimamori/keys"
)

// TestLedgerCheckpointOverSSHThenOfflineVerify: a manager keeps signed
// checkpoints from `ssh … ledger checkpoint`; `mimamori ledger verify
// --checkpoint` accepts the untouched ledger and names the first
// checkpoint a rewritten (here: emptied) one fails.
func TestLedgerCheckpointOverSSHThenOfflineVerify(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	keyDir := filepath.Join(dir, "keys")
	for _, who := range []string{"manager", "operator"} {
		pub := genKey(t, keyDir, who)
		if code, _, errOut := runCmd(t, ctx, "keys", "add", "--data", data, "--role", who, "--name", who, pub); code != 0 {
			t.Fatalf("keys add %s: %s", who, errOut)
		}
	}
	cfg, err := config.Parse([]byte("data_dir: data\nappliance_id: 四街道 1\nssh:\n  listen: 127.0.0.1:0\n  playback_port: 0\n"+
		"storage:\n  capacity: 8MiB\n  block_size: 1MiB\ncameras:\n  - id: cam1\n    url: rtsp://127.0.0.1:1/cam1\n"), dir)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	app, err := appliance.Open(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	run, err := app.Start(rctx, log)
	if err != nil {
		t.Fatal(err)
	}
	addr := run.SSHAddr().String()
	var files []string
	for i := 0; i < 2; i++ {
		out, errOut, code := sshAs(t, addr, keyDir, "manager", "ledger checkpoint")
		if code != 0 || !strings.HasPrefix(out, "mimamori/四街道_1\n") || !strings.Contains(out, "\n— mimamori/四街道_1 ") {
			t.Fatalf("ledger checkpoint: exit %d\n%s%s", code, out, errOut)
		}
		f := filepath.Join(dir, "checkpoint-"+string(rune('a'+i))+".txt")
		if err := os.WriteFile(f, []byte(out), 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
		sshAs(t, addr, keyDir, "operator", "whoami") // the ledger grows between them
	}
	if _, errOut, code := sshAs(t, addr, keyDir, "operator", "ledger checkpoint"); code == 0 || !strings.Contains(errOut, "forbidden") {
		t.Errorf("operator's ledger checkpoint: exit %d %s", code, errOut)
	}
	cancel()
	run.Stop(log)
	app.Close()

	verify := func(extra ...string) (int, string) {
		args := append([]string{"ledger", "verify", "--data", data}, extra...)
		code, out, errOut := runCmd(t, ctx, args...)
		return code, out + errOut
	}
	withCPs := []string{"--checkpoint", files[0], "--checkpoint", files[1]}
	if code, out := verify(withCPs...); code != 0 || !strings.Contains(out, "an append-only extension of all 2 checkpoints") {
		t.Fatalf("untouched ledger against its checkpoints: exit %d\n%s", code, out)
	}
	if code, out := verify(); code != 0 || !strings.Contains(out, "consistent with no outside checkpoint") {
		t.Fatalf("without checkpoints: exit %d\n%s", code, out)
	}
	if code, out := verify(append(withCPs, "--key", "SHA256:not-the-appliance")...); code != 1 || !strings.Contains(out, "not SHA256:not-the-appliance") {
		t.Errorf("wrong --key: exit %d\n%s", code, out)
	}

	// Empty the ledger and its tree, as someone with the disk could.
	db, err := bolt.Open(appliance.DBPath(data), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range []string{"ledger", "tlog"} {
			if err := tx.DeleteBucket([]byte(b)); err != nil {
				return err
			}
			if _, err := tx.CreateBucket([]byte(b)); err != nil {
				return err
			}
		}
		return tx.Bucket([]byte("meta")).Delete([]byte("ledger_head"))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if code, out := verify(); code != 0 || !strings.Contains(out, "ledger intact: 0 entries (consistent with no outside checkpoint") {
		t.Errorf("emptied, without checkpoints (should claim no more than it knows): exit %d\n%s", code, out)
	}
	code, out := verify(withCPs...)
	if code != 1 || !strings.Contains(out, "checkpoint "+files[0]+" FAILS (the first of 2 that does)") || !strings.Contains(out, "entries were removed") {
		t.Errorf("emptied, against the checkpoints: exit %d\n%s", code, out)
	}
}

// TestPackageAndFormAnchorsCatchARewrite: the anchors that left the box —
// the checkpoint in an export package's manifest (as the recipient
// extracts it) and the size and short root printed on the forms — later
// show a rewrite of the ledger before them, with every hash recomputed.
func TestPackageAndFormAnchorsCatchARewrite(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	f := newExportFixtureIn(t, data)
	r := f.export(t)
	out := filepath.Join(t.TempDir(), "out")
	if code, so, se := runCmd(t, ctx, "verify", r.Export.Path, "--identity", f.key, "--key", f.fp, "--extract", out); code != 0 {
		t.Fatalf("verify: %d\n%s%s", code, so, se)
	}
	manifest := filepath.Join(out, "manifest.json")
	cp, err := f.store.DocumentCheckpoint(vManager) // what forms 2, 3 and the receipt print
	if err != nil {
		t.Fatal(err)
	}
	printed := fmt.Sprintf("%d:%s", cp.Size, cp.ShortRoot())
	f.store.Close()
	verify := func(args ...string) (int, string) {
		code, so, se := runCmd(t, ctx, append([]string{"ledger", "verify", "--data", data}, args...)...)
		return code, so + se
	}
	// The fingerprint as people type it: any case of the prefix, spaces.
	typed := " sha256: " + strings.TrimPrefix(f.fp, "SHA256:")
	code, o := verify("--checkpoint", manifest, "--anchor", printed, "--key", typed)
	if code != 0 || !strings.Contains(o, "checkpoint "+manifest+": ") || !strings.Contains(o, "anchor "+printed+": ") {
		t.Fatalf("untouched ledger against the package's checkpoint and the printed anchor: %d\n%s", code, o)
	}

	// An auditor elsewhere, with a backup and the appliance's public key
	// as ssh-keyscan prints it: no data directory, no private key.
	host, _, _, err := keys.LoadOrCreateHostKey(data)
	if err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(t.TempDir(), "appliance.pub")
	os.WriteFile(pub, []byte("# 127.0.0.1:2222 SSH-2.0-Go\n[127.0.0.1]:2222 "+string(ssh.MarshalAuthorizedKey(host.PublicKey()))), 0o600)
	backup := filepath.Join(t.TempDir(), "backup.db")
	if b, err := os.ReadFile(appliance.DBPath(data)); err != nil || os.WriteFile(backup, b, 0o600) != nil {
		t.Fatalf("backup: %v", err)
	}
	code, so, se := runCmd(t, ctx, "ledger", "verify", "--db", backup, "--host-key", pub, "--key", f.fp, "--checkpoint", manifest)
	if code != 0 || !strings.Contains(so, "checkpoint "+manifest+": ") {
		t.Fatalf("a backup against the package's checkpoint with the public key: %d\n%s%s", code, so, se)
	}
	if code, so, se := runCmd(t, ctx, "ledger", "verify", "--db", backup, "--host-key", pub, "--key", "SHA256:other", "--checkpoint", manifest); code != 1 {
		t.Fatalf("a public key that is not the fingerprint given: %d\n%s%s", code, so, se)
	}

	// Re-attribute the request's registration (among the anchored entries).
	forgeEntry(t, appliance.DBPath(data), func(e []byte) []byte {
		return bytes.Replace(e, []byte(vOperator.Name), []byte("Operator Tanaka"), 1)
	}, r.ID)
	if code, o := verify(); code != 0 {
		t.Fatalf("the forgery is not self-consistent (the test's attacker is too weak): %d\n%s", code, o)
	}
	code, o = verify("--checkpoint", manifest)
	if code != 1 || !strings.Contains(o, "checkpoint "+manifest+" FAILS") || !strings.Contains(o, "history was rewritten") {
		t.Errorf("rewrite against the package's checkpoint: %d\n%s", code, o)
	}
	code, o = verify("--anchor", printed)
	if code != 1 || !strings.Contains(o, "anchor "+printed+" FAILS") {
		t.Errorf("rewrite against the printed anchor: %d\n%s", code, o)
	}
	if code, o := verify("--anchor", "12:abc"); code != 2 {
		t.Errorf("a malformed anchor: %d\n%s", code, o)
	}
}

// forgeEntry rewrites the first ledger entry whose bytes contain marker
// (edit must keep every string's length) and recomputes every later
// hash, link, tree hash and the head, as an insider with the disk could.
func forgeEntry(t *testing.T, path string, edit func([]byte) []byte, marker string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		var es [][]byte
		_ = tx.Bucket([]byte("ledger")).ForEach(func(_, v []byte) error { es = append(es, bytes.Clone(v)); return nil })
		done := false
		for i, v := range es {
			if !done && bytes.Contains(v, []byte(marker)) {
				w := edit(v)
				if len(w) != len(v) || bytes.Equal(w, v) {
					return fmt.Errorf("the edit of entry %d changed its length or nothing", i+1)
				}
				es[i], done = w, true
			}
		}
		if !done {
			return fmt.Errorf("no entry holds %q", marker)
		}
		var prev [32]byte
		hashes := map[int64]tlog.Hash{}
		read := tlog.HashReaderFunc(func(ix []int64) ([]tlog.Hash, error) {
			out := make([]tlog.Hash, len(ix))
			for i, x := range ix {
				out[i] = hashes[x]
			}
			return out, nil
		})
		for _, b := range []string{"ledger", "tlog"} {
			if err := tx.DeleteBucket([]byte(b)); err != nil {
				return err
			}
			if _, err := tx.CreateBucket([]byte(b)); err != nil {
				return err
			}
		}
		key := func(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }
		for i, v := range es {
			copy(v[17:49], prev[:])
			prev = sha256.Sum256(v[:len(v)-32])
			copy(v[len(v)-32:], prev[:])
			if err := tx.Bucket([]byte("ledger")).Put(key(uint64(i+1)), v); err != nil {
				return err
			}
			hs, err := tlog.StoredHashes(int64(i), v, read)
			if err != nil {
				return err
			}
			at := tlog.StoredHashIndex(0, int64(i))
			for j, h := range hs {
				hashes[at+int64(j)] = h
				if err := tx.Bucket([]byte("tlog")).Put(key(uint64(at+int64(j))), h[:]); err != nil {
					return err
				}
			}
		}
		return tx.Bucket([]byte("meta")).Put([]byte("ledger_head"), append(key(uint64(len(es))), prev[:]...))
	})
	if err != nil {
		t.Fatal(err)
	}
}
