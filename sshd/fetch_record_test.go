package sshd

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pkg/sftp"

	"mimamori/core"
	"mimamori/keys"
)

// heldPackage is an appliance holding one exported package of size bytes.
func heldPackage(t *testing.T, size int) (f *fixture, name string, want []byte) {
	t.Helper()
	dir := t.TempDir()
	f = newFixture(t, func(o *Options) {
		o.ExportDir = dir
		o.PerKeySessionRate = Rate{N: 1000, Per: time.Second}
		EnableFileTransfer(o)
	})
	f.store.SetExporter(randomExporter{size: size})
	host, _, _, err := keys.LoadOrCreateHostKey(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.SetLogSigner("test", host); err != nil {
		t.Fatal(err)
	}
	f.addCameras("cam1", "cam2")
	id := strings.TrimSpace(f.mustRun(f.oper, newReq))
	f.mustRun(f.manager, "request instruct "+id+" --operator sousa")
	f.mustRun(f.oper, "request result "+id+dated(" --found yes --range cam1=DAY0T09:10:00+09:00/DAY0T09:14:00+09:00"))
	f.mustRun(f.manager, "request approve "+id+" --judgement '捜査に必要な範囲に限られ不当侵害のおそれなし'")
	pkg := strings.TrimSpace(f.mustRun(f.oper, "request export "+id))
	if want, err = os.ReadFile(pkg); err != nil {
		t.Fatal(err)
	}
	return f, filepath.Base(pkg), want
}

// fetchEntries are the export.fetch entries of one phase.
func (f *fixture) fetchEntries(phase string) []core.Entry {
	var out []core.Entry
	for _, e := range f.entries() {
		if e.Action == core.ActionExportFetch && e.Details["phase"] == phase {
			out = append(out, e)
		}
	}
	return out
}

// waitFetchEnded waits until n fetches have ended in the ledger (the
// server ledgers the end when it closes the file, after the client went).
func (f *fixture) waitFetchEnded(n int) []core.Entry {
	f.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		es := f.fetchEntries("ended")
		if len(es) >= n || time.Now().After(deadline) {
			return es
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// A fetch is on record before its first byte leaves — a crash of the
// appliance in the middle of a copy cannot hide it — and its end records
// what was served: here read backwards in 256 KiB pieces (sftp clients
// pipeline out of order), which still yields the whole file's SHA-256.
func TestFetchIsLedgeredBeforeItsFirstByte(t *testing.T) {
	f, name, want := heldPackage(t, 3<<20+777)
	c, err := f.dial(f.oper)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sc, err := sftp.NewClient(c)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	fh, err := sc.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(f.fetchEntries("started")); n != 0 {
		t.Fatalf("opening alone ledgered %d fetches", n)
	}
	got := make([]byte, len(want))
	const piece = 256 << 10
	last := (len(want) - 1) / piece * piece
	if _, err := fh.ReadAt(got[last:], int64(last)); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	// The first bytes are out: the start is already in the ledger.
	st := f.fetchEntries("started")
	if len(st) != 1 || st[0].Details["name"] != name || st[0].Details["package_sha256"] != sum(want) ||
		st[0].Details["protocol"] != "sftp" || st[0].Actor.Fingerprint != f.oper.actor.Fingerprint {
		t.Fatalf("started entries while the file is open: %+v", st)
	}
	if n := len(f.fetchEntries("ended")); n != 0 {
		t.Fatalf("%d ended entries while the file is open", n)
	}
	for off := last - piece; off >= 0; off -= piece {
		if _, err := fh.ReadAt(got[off:off+piece], int64(off)); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatal("served bytes differ")
	}
	if err := fh.Close(); err != nil {
		t.Fatal(err)
	}
	es := f.waitFetchEnded(1)
	if len(es) != 1 {
		t.Fatalf("%d ended entries", len(es))
	}
	d := es[0].Details
	if d["complete"] != "true" || d["sha256"] != sum(want) || d["bytes"] != itoa(len(want)) || d["prefix_bytes"] != "" {
		t.Fatalf("ended entry %+v", d)
	}
}

// A client that stops in the middle (its connection dropped with the file
// open) is recorded once, with the bytes served and the SHA-256 of the
// prefix it holds.
func TestPartialFetchRecordsThePrefixServed(t *testing.T) {
	f, name, want := heldPackage(t, 2<<20)
	c, err := f.dial(f.oper)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := sftp.NewClient(c)
	if err != nil {
		t.Fatal(err)
	}
	fh, err := sc.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	const got = 700_000
	buf := make([]byte, got)
	if _, err := io.ReadFull(fh, buf); err != nil {
		t.Fatal(err)
	}
	c.Close() // no close of the file: the connection just goes
	es := f.waitFetchEnded(1)
	if len(es) != 1 {
		t.Fatalf("%d ended entries after a dropped connection", len(es))
	}
	d := es[0].Details
	if d["complete"] != "false" || d["sha256"] != "" || d["prefix_bytes"] != itoa(got) || d["prefix_sha256"] != sum(want[:got]) {
		t.Fatalf("ended entry of a partial fetch %+v", d)
	}
	if n := len(f.fetchEntries("started")); n != 1 {
		t.Fatalf("%d started entries", n)
	}
}

// Reads scattered in more pieces than it will note are served but not
// hashed, and nothing of them is kept in memory.
func TestScatteredReadsAreNotHashed(t *testing.T) {
	f, name, want := heldPackage(t, 1<<20)
	c, err := f.dial(f.oper)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sc, err := sftp.NewClient(c)
	if err != nil {
		t.Fatal(err)
	}
	fh, err := sc.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	for off := 2; off < 2*(maxAhead+10); off += 2 {
		if _, err := fh.ReadAt(b, int64(off)); err != nil || b[0] != want[off] {
			t.Fatalf("read at %d: %v", off, err)
		}
	}
	fh.Close()
	es := f.waitFetchEnded(1)
	if len(es) != 1 || es[0].Details["complete"] != "false" || es[0].Details["sha256"] != "" ||
		es[0].Details["prefix_sha256"] != "" || es[0].Details["bytes"] != itoa(maxAhead+9) {
		t.Fatalf("ended entry %+v", es)
	}
}

// The bookkeeping of ranges served ahead of the hashed prefix.
func TestAddSpan(t *testing.T) {
	var ss []span
	for _, sp := range []span{{10, 20}, {30, 40}, {50, 60}, {20, 25}, {45, 50}, {0, 5}, {24, 46}} {
		ss = addSpan(ss, sp)
	}
	want := []span{{0, 5}, {10, 60}}
	if len(ss) != len(want) || ss[0] != want[0] || ss[1] != want[1] {
		t.Fatalf("spans %v, want %v", ss, want)
	}
}

// OpenSSH's scp in the legacy protocol (-O) exits 0 every time it got the
// whole package: the appliance ends the session only after the client's
// last acknowledgement (else scp could die of SIGPIPE, "lost connection").
func TestLegacySCPEndsCleanly(t *testing.T) {
	scpBin, err := exec.LookPath("scp")
	if err != nil {
		t.Skip("OpenSSH scp not installed (apt-get install openssh-client)")
	}
	f, name, want := heldPackage(t, 3<<20)
	op := f.opensshKey(f.oper) // the operator the search was instructed to (000 §9-4)
	out := t.TempDir()
	const runs = 40
	for i := 0; i < runs; i++ {
		dst := filepath.Join(out, itoa(i))
		msg, code := f.tool(op, scpBin, "", "-O", "127.0.0.1:"+name, dst)
		got, _ := os.ReadFile(dst)
		if code != 0 || !bytes.Equal(got, want) {
			t.Fatalf("scp -O run %d: exit %d, %d of %d bytes\n%s", i, code, len(got), len(want), msg)
		}
	}
	if es := f.waitFetchEnded(runs); len(es) != runs || len(f.fetchEntries("started")) != runs {
		t.Fatalf("%d fetches: %d ended, %d started entries", runs, len(es), len(f.fetchEntries("started")))
	}
}

// A legacy scp sink acknowledges every message, the last one after the
// file's data; the session must not end (exit status, close) before that
// last acknowledgement arrives, or the real scp client, whose ssh exits
// on the close, dies of SIGPIPE writing it ("lost connection", exit 1,
// with every byte received — seen under load).
func TestLegacySCPWaitsForTheLastAck(t *testing.T) {
	f, name, want := heldPackage(t, 100000)
	c, err := f.dial(f.oper)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	in, _ := s.StdinPipe()
	out, _ := s.StdoutPipe()
	if err := s.Start("scp -f " + name); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(out)
	ack := func() {
		if _, err := in.Write([]byte{0}); err != nil {
			t.Fatal(err)
		}
	}
	ack() // the sink is ready
	var size int
	for _, prefix := range []string{"T", "C"} {
		line, err := r.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, prefix) {
			t.Fatalf("want a %s line, got %q (%v)", prefix, line, err)
		}
		if prefix == "C" {
			fmt.Sscanf(strings.Fields(line)[1], "%d", &size)
		}
		ack()
	}
	got := make([]byte, size+1)
	if _, err := io.ReadFull(r, got); err != nil || !bytes.Equal(got[:size], want) || got[size] != 0 {
		t.Fatalf("data: %v (size %d of %d)", err, size, len(want))
	}
	exited := make(chan error, 1)
	go func() { exited <- s.Wait() }()
	select {
	case err := <-exited:
		t.Fatalf("the session ended before the sink's last acknowledgement: %v", err)
	case <-time.After(300 * time.Millisecond): // (no false failure: the server waits 30 s)
	}
	ack()
	if err := <-exited; err != nil {
		t.Fatalf("exit after the last acknowledgement: %v", err)
	}
}

// An sftp client that reads every open handle out of order — all of the
// file but its first byte, on as many handles as a session may open —
// makes the server hold nothing for it: what is served ahead of the
// hashed prefix is noted as a range, never buffered (before, up to 16 MiB
// per handle was kept for hashing, outside every input budget: 32 handles
// of a 4 MiB package held 128 MiB). 32 handles: each fetch's start is a
// change within the key's change rate.
func TestOutOfOrderReadsHoldNoMemory(t *testing.T) {
	const size = 4 << 20
	f, name, want := heldPackage(t, size)
	c, err := f.dial(f.oper)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sc, err := sftp.NewClient(c)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	buf := make([]byte, size-1)
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse
	}
	before := heap()
	var open []*sftp.File
	for i := 0; i < 32; i++ {
		fh, err := sc.Open(name)
		if err != nil {
			t.Fatalf("handle %d: %v", i, err)
		}
		open = append(open, fh)
		if n, err := fh.ReadAt(buf, 1); n != len(buf) || err != nil && err != io.EOF || !bytes.Equal(buf, want[1:]) {
			t.Fatalf("handle %d: read %d bytes from offset 1: %v", i, n, err)
		}
	}
	grew := int64(heap()) - int64(before)
	t.Logf("heap after %d handles × %d bytes read ahead of the prefix: %+d bytes", len(open), len(buf), grew)
	if grew > 16<<20 {
		t.Errorf("the server holds %d MiB for %d handles read out of order (%d MiB served)", grew>>20, len(open), len(open)*len(buf)>>20)
	}
	for _, fh := range open {
		fh.Close()
	}
	es := f.waitFetchEnded(len(open))
	for _, e := range es {
		if e.Details["complete"] != "false" || e.Details["bytes"] != itoa(size-1) {
			t.Fatalf("ended entry %+v", e.Details)
		}
	}
}
