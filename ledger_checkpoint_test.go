package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"mimamori/appliance"
	"mimamori/config"
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
