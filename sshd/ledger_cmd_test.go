package sshd

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"mimamori/core"
)

// TestLedgerShowsPeopleFirst: `ledger` and `ledger --csv` list people's
// acts; the appliance's own records come with --machine (or --all).
func TestLedgerShowsPeopleFirst(t *testing.T) {
	f := newFixture(t, nil)
	now := time.Now().UTC()
	if err := f.store.RecordErasure(core.Erasure{Camera: "cam1", From: now.Add(-time.Hour), To: now.Add(-59 * time.Minute),
		ErasedAt: now, Block: 3, Generation: 1, Bytes: 1 << 20, Reason: "overwrite"}); err != nil {
		t.Fatal(err)
	}
	if err := f.store.FlushErasureProofs(""); err != nil {
		t.Fatal(err)
	}
	actions := func(cmd string) map[string]int {
		t.Helper()
		out, errOut, code := f.run(f.manager, cmd)
		if code != 0 {
			t.Fatalf("%s: exit %d %s", cmd, code, errOut)
		}
		var es []entryJSON
		if err := json.Unmarshal([]byte(out), &es); err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, out)
		}
		m := map[string]int{}
		for _, e := range es {
			m[e.Action]++
		}
		return m
	}
	if m := actions("ledger --json"); m["erasure"] != 0 || m["key.enroll"] == 0 {
		t.Errorf("ledger: %v", m)
	}
	if m := actions("ledger --machine --json"); m["erasure"] != 1 || len(m) != 1 {
		t.Errorf("ledger --machine: %v", m)
	}
	if m := actions("ledger --all --json"); m["erasure"] != 1 || m["key.enroll"] == 0 {
		t.Errorf("ledger --all: %v", m)
	}
	if _, errOut, code := f.run(f.manager, "ledger --machine --all"); code != 2 || !strings.Contains(errOut, "exclude") {
		t.Errorf("--machine --all: exit %d %s", code, errOut)
	}
	out, _, code := f.run(f.manager, "ledger --csv")
	if code != 0 || strings.Contains(out, ",erasure,") || !strings.Contains(out, ",key.enroll,") {
		t.Errorf("ledger --csv: exit %d\n%s", code, out)
	}
	out, _, code = f.run(f.manager, "ledger --csv --machine")
	if code != 0 || !strings.Contains(out, ",erasure,") || strings.Contains(out, ",key.enroll,") {
		t.Errorf("ledger --csv --machine: exit %d\n%s", code, out)
	}
}
