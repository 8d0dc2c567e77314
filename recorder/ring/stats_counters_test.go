package ring

import "testing"

// Stats counts every erased block (and its footage bytes) by reason,
// matching the proofs handed to the ledger, and every fdatasync in the
// latency histogram.
func TestStatsCountErasuresAndSyncs(t *testing.T) {
	e := newEnv(t)
	r := mustOpen(t, e.tinyOpts())
	defer r.Close()
	id, err := r.AppendInit("cam1", initFor("cam1"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 { // several laps of the 16-block ring
		appendSeq(t, r, e, "cam1", id, i, i+1, fragSize)
		if i%5 == 0 {
			if err := r.Sync(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}
	st := r.Stats()
	var blocks, bytes uint64
	for _, er := range e.er.list() {
		if er.Reason != "overwrite" {
			t.Fatalf("unexpected reason %q", er.Reason)
		}
		blocks++
		bytes += uint64(er.Bytes)
	}
	got := st.Erased["overwrite"]
	if blocks == 0 || got.Blocks != blocks || got.Bytes != bytes {
		t.Fatalf("stats say %+v, the ledger got %d blocks of %d bytes", got, blocks, bytes)
	}
	if n := st.FsyncSeconds.Count(); n < 40 {
		t.Fatalf("fsync histogram counted %d syncs", n)
	}
}
