package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mimamori/core"
)

// A backup taken over SSH while 4 cameras record and people keep writing
// is a consistent database: `mimamori ledger verify --db` accepts it, its
// hash is the one ledgered, and it opens in a second appliance that lets
// the same manager in and records.
func TestBackupWhileRecordingRestoresInASecondAppliance(t *testing.T) {
	cams := startCameras(t, 4, nil)
	a := serveAppliance(t, t.TempDir(), cams, nil)
	a.waitRecording(30 * time.Second)
	addr := a.run.SSHAddr().String()
	operator := newPerson(t, "担当 太郎", core.RoleOperator)
	enrollPerson(t, a.app.Store, operator)

	// Writers keep going for the whole backup: inquiries through core,
	// recording events and erasures through the recorder.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var written atomic.Int64
	var werr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := a.app.Store.RegisterInquiry(core.Actor{Fingerprint: "SHA256:x", Name: operator.name, Role: core.RoleOperator},
				core.InquiryInput{From: "resident " + strconv.Itoa(i), Summary: "noise at night"}); err != nil {
				werr = err
				return
			}
			written.Add(1)
		}
	}()

	snap := filepath.Join(t.TempDir(), "mimamori.db")
	f, err := os.Create(snap)
	if err != nil {
		t.Fatal(err)
	}
	before := written.Load()
	stderr, code := sshTo(t, addr, a.manager, "backup", f, false)
	during := written.Load() - before
	close(stop)
	wg.Wait()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if werr != nil {
		t.Fatalf("a writer failed during the backup: %v", werr)
	}
	if code != 0 {
		t.Fatalf("backup: exit %d: %s", code, stderr)
	}
	t.Logf("backup: %s(%d inquiries written while it ran)", stderr, during)

	// The hash the manager was told is the file's and the ledgered one.
	m := regexp.MustCompile(`backup: (\d+) bytes, sha256 ([0-9a-f]{64}), ledger up to seq (\d+)`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no summary on stderr: %q", stderr)
	}
	b, err := os.ReadFile(snap)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if hex.EncodeToString(sum[:]) != m[2] || strconv.Itoa(len(b)) != m[1] {
		t.Fatalf("file: %d bytes sha256 %x; announced %s bytes %s", len(b), sum, m[1], m[2])
	}
	es, err := a.app.Store.Ledger(core.Actor{Fingerprint: "SHA256:m", Name: "m", Role: core.RoleManager}, 1, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var entry *core.Entry
	for i := range es {
		if es[i].Action == core.ActionBackup {
			entry = &es[i]
		}
	}
	if entry == nil || entry.Details["sha256"] != m[2] || entry.Details["ledger_seq"] != m[3] || entry.Actor.Name != a.manager.name {
		t.Fatalf("backup ledger entry %+v, announced %v", entry, m[1:])
	}

	// The offline verifier accepts the snapshot as it is.
	vcode, out := runBinary(t, "ledger", "verify", "--db", snap)
	if vcode != 0 || !strings.Contains(out, "ledger intact: "+m[3]+" entries") {
		t.Fatalf("ledger verify --db: exit %d\n%s", vcode, out)
	}

	// Others cannot take one, and a terminal gets no binary.
	var none strings.Builder
	if se, c := sshTo(t, addr, operator, "backup", &none, false); c == 0 || none.Len() != 0 {
		t.Fatalf("operator backup: exit %d, %d bytes, %s", c, none.Len(), se)
	}
	if se, c := sshTo(t, addr, a.manager, "backup", &none, true); c == 0 || none.Len() != 0 || !strings.Contains(se+none.String(), "redirect") {
		t.Fatalf("backup on a terminal: exit %d, %q %q", c, none.String(), se)
	}

	// Restore: the snapshot as mimamori.db of a fresh data directory.
	a.stop()
	restoreDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(restoreDir, "mimamori.db"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	r := serveAppliance(t, restoreDir, cams, &a.manager)
	r.waitRecording(30 * time.Second)
	rep, err := r.app.Store.ChainStatus(core.Actor{Fingerprint: "SHA256:m", Name: "m", Role: core.RoleManager})
	if err != nil || !rep.OK {
		t.Fatalf("restored ledger: %+v %v", rep, err)
	}
	var who strings.Builder
	if se, c := sshTo(t, r.run.SSHAddr().String(), a.manager, "whoami", &who, false); c != 0 || !strings.Contains(who.String(), a.manager.name) {
		t.Fatalf("manager on the restored appliance: exit %d %s %s", c, who.String(), se)
	}
	var inq strings.Builder
	if se, c := sshTo(t, r.run.SSHAddr().String(), a.manager, "inquiry list --json", &inq, false); c != 0 || !strings.Contains(inq.String(), "resident 0") {
		t.Fatalf("inquiries on the restored appliance: exit %d %s", c, se)
	}
}
