package core

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// manualStore is a store whose machine records move only when the test
// ticks them (Options.ManualTick), on a clock the test sets.
func manualStore(t *testing.T) (*Store, *clock, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mimamori.db")
	c := &clock{t: t0}
	s, err := Open(path, Options{Now: c.Now, Logger: quietLogger(), ManualTick: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, c, path
}

// entriesOf returns the ledger entries with action a.
func entriesOf(t testing.TB, s *Store, a Action) []Entry {
	t.Helper()
	var out []Entry
	for since := uint64(0); ; {
		es, err := s.Ledger(manager, since, maxLedgerLimit)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			if e.Action == a {
				out = append(out, e)
			}
		}
		if len(es) < maxLedgerLimit {
			return out
		}
		since = es[len(es)-1].Seq + 1
	}
}

// block returns the erasure of block b of camera cam: footage
// [t0+b*10s, t0+(b+1)*10s), adjacent to the next block's.
func block(cam string, b uint32, gen uint64, at time.Time) Erasure {
	from := t0.Add(time.Duration(b) * 10 * time.Second)
	return Erasure{Camera: cam, From: from, To: from.Add(10 * time.Second), ErasedAt: at, Block: b, Generation: gen,
		Bytes: 4 << 20, Reason: "overwrite"}
}

func TestErasureProofsOnePerCameraPerHour(t *testing.T) {
	s, clk, _ := manualStore(t)
	for b := uint32(0); b < 100; b++ { // 100 blocks in 40 minutes
		clk.Advance(24 * time.Second)
		for i, cam := range []string{"cam1", "cam2"} {
			e := block(cam, b, 1, clk.Now())
			e.Block += uint32(i) * 1000 // one camera per ring block
			if err := s.RecordErasure(e); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Recording an erasure twice (a crash between erase and free) counts once.
	if err := s.RecordErasure(block("cam1", 99, 1, clk.Now())); err != nil {
		t.Fatal(err)
	}
	s.TickMachineRecords()
	if n := len(entriesOf(t, s, ActionErasure)); n != 0 {
		t.Fatalf("%d erasure entries within the first hour", n)
	}
	clk.Advance(time.Hour)
	s.TickMachineRecords()
	es := entriesOf(t, s, ActionErasure)
	if len(es) != 2 {
		t.Fatalf("%d erasure entries after an hour, want one per camera", len(es))
	}
	for _, e := range es {
		d := e.Details
		if d["blocks"] != "100" || d["bytes"] != strconv.Itoa(100*4<<20) || d["reason"] != "overwrite" ||
			d["from"] != fmtTime(t0) || d["to"] != fmtTime(t0.Add(1000*time.Second)) || d["spans"] != "" ||
			d["erased_from"] == "" || d["erased_to"] <= d["erased_from"] || e.Actor.Role != RoleSystem {
			t.Errorf("proof %s: %v", e.Subject, d)
		}
	}
	// The next lap of the same blocks is new.
	if err := s.RecordErasure(block("cam1", 5, 2, clk.Now())); err != nil {
		t.Fatal(err)
	}
	if err := s.FlushErasureProofs("cam1"); err != nil {
		t.Fatal(err)
	}
	if es := entriesOf(t, s, ActionErasure); len(es) != 3 || es[2].Details["blocks"] != "1" {
		t.Fatalf("next lap: %+v", es[len(es)-1])
	}
	// The dedup remembers the erasures recorded (201, within its window),
	// one key each in the window and in the lookup.
	_ = s.db.View(func(tx *bolt.Tx) error {
		w, r := tx.Bucket(bErasureWindow).Stats().KeyN, tx.Bucket(bErasureRecent).Stats().KeyN
		if w != 201 || r != 201 || tx.Bucket(bErasedBlocks) != nil {
			t.Errorf("dedup keys: window %d, lookup %d, want 201 each and no per-block bucket", w, r)
		}
		return nil
	})
}

func TestErasureProofSurvivesACrash(t *testing.T) {
	s, clk, path := manualStore(t)
	for b := uint32(0); b < 3; b++ {
		if err := s.RecordErasure(block("cam1", b, 1, clk.Now())); err != nil {
			t.Fatal(err)
		}
	}
	// Crash: the process dies without its shutdown flush.
	s.machineOnce.Do(func() {})
	s.Close()
	s2, err := Open(path, Options{Now: clk.Now, Logger: quietLogger(), ManualTick: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	es := entriesOf(t, s2, ActionErasure)
	if len(es) != 1 || es[0].Details["blocks"] != "3" {
		t.Fatalf("after restart: %+v", es)
	}
}

func TestErasureProofSplitsAtHoldsAndGaps(t *testing.T) {
	// Block 2 is held and holds less than a second of footage (20.2 s to
	// 20.8 s); blocks 5 and 6 are still on disk.
	held := []HoldRange{{Camera: "cam1", From: t0.Add(20200 * time.Millisecond), To: t0.Add(20800 * time.Millisecond)}}
	var p pendingErasure
	for _, b := range []uint32{0, 1, 3, 4, 7} {
		e := block("cam1", b, 1, t0)
		if b == 3 {
			e.From = e.From.Add(-9 * time.Second) // 21 s: within the adjacency, but across the hold
		}
		p.add(e, t0, held)
	}
	if len(p.Spans) != 3 || p.Blocks != 5 {
		t.Fatalf("spans %+v", p.Spans)
	}
	if !p.Spans[0].To.Equal(t0.Add(20*time.Second)) || !p.Spans[1].From.Equal(t0.Add(21*time.Second)) {
		t.Errorf("hold boundary lost: %+v", p.Spans)
	}
	d := p.draft()
	if strings.Count(d.Details["spans"], "/") != 3 {
		t.Errorf("spans detail %q", d.Details["spans"])
	}
	// Out of order blocks still make one range once the gap is filled.
	var q pendingErasure
	for _, b := range []uint32{3, 1, 2, 0} {
		q.add(block("cam2", b, 1, t0), t0, nil)
	}
	if len(q.Spans) != 1 || !q.Spans[0].From.Equal(t0) || !q.Spans[0].To.Equal(t0.Add(40*time.Second)) {
		t.Errorf("reordered blocks: %+v", q.Spans)
	}
}

func TestErasureProofCapsItsSpans(t *testing.T) {
	s, clk, _ := manualStore(t)
	for i := uint32(0); i <= erasureMaxSpans; i++ {
		if err := s.RecordErasure(block("cam1", i*2, 1, clk.Now())); err != nil { // every other block: gaps
			t.Fatal(err)
		}
	}
	es := entriesOf(t, s, ActionErasure)
	if len(es) != 1 || es[0].Details["blocks"] != strconv.Itoa(erasureMaxSpans) || strings.Count(es[0].Details["spans"], " ") != erasureMaxSpans-1 {
		t.Fatalf("entries %+v", es)
	}
}

func TestErasureProofOfAMixedRun(t *testing.T) {
	s, clk, _ := manualStore(t)
	e := block("cam1", 0, 1, clk.Now())
	_ = s.RecordErasure(e)
	e = block("cam1", 1, 1, clk.Now())
	e.Reason = "retention"
	_ = s.RecordErasure(e)
	if err := s.FlushErasureProofs(""); err != nil {
		t.Fatal(err)
	}
	d := entriesOf(t, s, ActionErasure)[0].Details
	if d["reason"] != "overwrite+retention" || d["blocks_overwrite"] != "1" || d["blocks_retention"] != "1" {
		t.Errorf("mixed reasons: %v", d)
	}
}

func TestUnreadablePendingProofIsReportedNotLost(t *testing.T) {
	s, clk, _ := manualStore(t)
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bErasurePending).Put([]byte("cam1"), []byte("{not json"))
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordErasure(block("cam1", 0, 1, clk.Now())); err != nil {
		t.Fatalf("a damaged pending proof stopped erasures: %v", err)
	}
	es := entriesOf(t, s, ActionErasure)
	if len(es) != 1 || !strings.Contains(es[0].Details["problem"], "unreadable") || es[0].Details["raw"] != fmt.Sprintf("%x", "{not json") {
		t.Fatalf("entries %+v", es)
	}
}

// TestBrokenCameraWritesFewEntries: a camera whose timestamps go
// backwards every GOP (2 s) and one that can never get a block (a write
// error every second), for three hours: at most 6 entries an hour each,
// and the summaries account for every event.
func TestBrokenCameraWritesFewEntries(t *testing.T) {
	s, clk, path := manualStore(t)
	start := clk.Now()
	events := map[string]int{}
	for sec := 0; sec < 3*3600; sec++ {
		clk.Advance(time.Second)
		now := clk.Now()
		if sec%2 == 0 {
			_ = s.RecordEvent(RecordingEvent{Camera: "back", Kind: "discontinuity", At: now, Details: map[string]string{"reason": "dts backwards"}})
			events["back"]++
		}
		_ = s.RecordEvent(RecordingEvent{Camera: "noblock", Kind: "write-error", At: now, Details: map[string]string{"error": "no free block"}})
		events["noblock"]++
		if sec%30 == 0 {
			s.TickMachineRecords()
		}
	}
	s.TickMachineRecords()
	perHour := map[string]map[int]int{}
	for _, e := range entriesOf(t, s, ActionRecordingEvent) {
		if perHour[e.Subject] == nil {
			perHour[e.Subject] = map[int]int{}
		}
		perHour[e.Subject][int(e.Time.Sub(start)/time.Hour)]++
	}
	for cam, hours := range perHour {
		for h, n := range hours {
			if n > 6 {
				t.Errorf("camera %s: %d entries in hour %d", cam, n, h)
			}
		}
	}
	s.Close() // writes the last window's counts
	// Every event is accounted for once the last summary is written.
	s2, err := Open(path, Options{Logger: quietLogger(), ManualTick: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	total := map[string]int{}
	for _, e := range entriesOf(t, s2, ActionRecordingEvent) {
		if e.Details["kind"] == "summary" {
			for _, k := range []string{"discontinuity", "write-error"} {
				n, _ := strconv.Atoi(e.Details[k])
				total[e.Subject] += n
			}
		} else {
			total[e.Subject]++
		}
	}
	for cam, n := range events {
		if total[cam] != n {
			t.Errorf("camera %s: %d events, the ledger accounts for %d", cam, n, total[cam])
		}
	}
}

func TestEventStateChangeAndSummary(t *testing.T) {
	s, clk, _ := manualStore(t)
	_ = s.RecordEvent(RecordingEvent{Camera: "cam1", Kind: "camera-down", At: clk.Now(), Details: map[string]string{"error": "refused"}})
	s.TickMachineRecords()
	es := entriesOf(t, s, ActionRecordingEvent)
	if len(es) != 1 || es[0].Details["kind"] != "camera-down" || es[0].Details["error"] != "refused" {
		t.Fatalf("state change: %+v", es)
	}
	clk.Advance(time.Minute)
	_ = s.RecordEvent(RecordingEvent{Camera: "cam1", Kind: "camera-up", At: clk.Now()})
	s.TickMachineRecords()
	if n := len(entriesOf(t, s, ActionRecordingEvent)); n != 1 {
		t.Fatalf("camera-up within the window written at once (%d entries)", n)
	}
	clk.Advance(eventWindow)
	s.TickMachineRecords()
	es = entriesOf(t, s, ActionRecordingEvent)
	if len(es) != 2 || es[1].Details["kind"] != "summary" || es[1].Details["camera-up"] != "1" || es[1].Details["state.connection"] != "up" {
		t.Fatalf("summary: %+v", es[len(es)-1])
	}
	// Quiet for a window: the next event is a state change again.
	clk.Advance(eventWindow)
	s.TickMachineRecords()
	clk.Advance(eventWindow)
	_ = s.RecordEvent(RecordingEvent{Camera: "cam1", Kind: "clock-jump", At: clk.Now()})
	s.TickMachineRecords()
	if es := entriesOf(t, s, ActionRecordingEvent); len(es) != 3 || es[2].Details["kind"] != "clock-jump" {
		t.Fatalf("after a quiet window: %+v", es)
	}
}

// TestRecordEventDoesNotWaitForTheDisk: with every writer stuck, camera
// goroutines still get through RecordEvent at once.
func TestRecordEventDoesNotWaitForTheDisk(t *testing.T) {
	s, clk, _ := newTestStore(t, CityStandard())
	stuck, release := make(chan struct{}), make(chan struct{})
	go func() {
		_ = s.write(func(*bolt.Tx) error { close(stuck); <-release; return nil })
	}()
	<-stuck
	done := make(chan struct{})
	go func() {
		for i := 0; i < 10000; i++ {
			_ = s.RecordEvent(RecordingEvent{Camera: "cam" + strconv.Itoa(i%64), Kind: "discontinuity", At: clk.Now()})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("RecordEvent waited for the stuck writer")
	}
	close(release)
}

func BenchmarkRecordEvent(b *testing.B) {
	s, _, _ := newTestStore(b, CityStandard())
	ev := RecordingEvent{Camera: "cam1", Kind: "discontinuity", At: t0, Details: map[string]string{"reason": "x"}}
	_ = s.RecordEvent(ev) // opens the window; the rest are counted
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = s.RecordEvent(ev)
	}
}

func TestMigrateErasureDedup(t *testing.T) {
	path := copyFixtureDB(t)
	var oldKeys int
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	_ = db.View(func(tx *bolt.Tx) error { oldKeys = tx.Bucket([]byte("erasures")).Stats().KeyN; return nil })
	db.Close()
	if oldKeys == 0 {
		t.Fatal("the fixture has no erasures")
	}
	// One damaged key among them is counted, not fatal.
	db, _ = bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	_ = db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("erasures")).Put([]byte("junk"), []byte{1}) })
	db.Close()
	s, err := openAt(t, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var m Entry
	for _, e := range migrateEntries(t, s) {
		if e.Details["step"] == "erasure-dedup" {
			m = e
		}
	}
	if m.Details["dedup_keys"] != strconv.Itoa(oldKeys+1) || m.Details["dedup_keys_unreadable"] != "1" {
		t.Fatalf("migration entry %+v", m.Details)
	}
	_ = s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte("erasures")) != nil {
			t.Error("old dedup bucket left behind")
		}
		n := tx.Bucket(bErasedBlocks).Stats().KeyN
		if n == 0 || n > oldKeys {
			t.Errorf("erased_blocks has %d keys (old: %d)", n, oldKeys)
		}
		return nil
	})
	// A redo of an erasure the old release recorded is still a duplicate.
	var first []byte
	_ = s.db.View(func(tx *bolt.Tx) error {
		k, v := tx.Bucket(bErasedBlocks).Cursor().First()
		first = append(append([]byte(nil), k...), v...)
		return nil
	})
	e := Erasure{Camera: string(first[12:]), Block: binary.BigEndian.Uint32(first), Generation: binary.BigEndian.Uint64(first[4:]),
		From: t0, To: t0, ErasedAt: t0, Reason: "overwrite"}
	if err := s.RecordErasure(e); err != nil {
		t.Fatal(err)
	}
	_ = s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bErasurePending).Get([]byte(e.Camera)); v != nil {
			var p pendingErasure
			_ = json.Unmarshal(v, &p)
			t.Errorf("a redone old erasure was counted again: %+v", p)
		}
		return nil
	})
}

// simulateDay records a day of steady erasures of cams cameras at
// 4 Mbit/s (a 4 MiB block every 8.4 s each), ticking the machine records
// every 30 s as the store does, and returns the entries written.
func simulateDay(t testing.TB, cams int) (erasures, total uint64) {
	path := filepath.Join(t.TempDir(), "mimamori.db")
	clk := &clock{t: t0}
	s, err := Open(path, Options{Now: clk.Now, Logger: quietLogger(), ManualTick: true, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const every = 8400 * time.Millisecond
	next := make([]uint32, cams)
	batch := make([]Erasure, cams)
	for at := time.Duration(0); at < 24*time.Hour; at += every {
		clk.Advance(every)
		for c := 0; c < cams; c++ {
			b := uint32(c*10000) + next[c]%5000
			footage := t0.Add(-7*24*time.Hour + at)
			batch[c] = Erasure{Camera: fmt.Sprintf("cam%d", c+1), From: footage, To: footage.Add(every),
				ErasedAt: clk.Now(), Block: b, Generation: uint64(next[c]/5000 + 1), Bytes: 4 << 20, Reason: "retention"}
			next[c]++
		}
		if err := s.RecordErasures(batch); err != nil { // one sweep's worth per commit
			t.Fatal(err)
		}
		if at%(30*time.Second) < every {
			s.TickMachineRecords()
		}
	}
	s.TickMachineRecords()
	return uint64(len(entriesOf(t, s, ActionErasure))), s.LedgerHead()
}

// TestErasureEntriesPerDay: a day of steady erasures writes one proof per
// camera per hour (24, or 25 when the day's first proof is not on the
// hour) and nothing else.
func TestErasureEntriesPerDay(t *testing.T) {
	const cams = 4
	erasures, total := simulateDay(t, cams)
	if erasures > cams*25 || erasures < cams*23 || total != erasures {
		t.Fatalf("%d erasure entries (%d in all) for %d cameras in a day, want about %d", erasures, total, cams, cams*24)
	}
}

// BenchmarkErasureDay64: a day of 64 cameras' erasures through
// RecordErasure (unsynced), reporting the entries it leaves.
func BenchmarkErasureDay64(b *testing.B) {
	for i := 0; i < b.N; i++ {
		erasures, total := simulateDay(b, 64)
		b.ReportMetric(float64(erasures), "erasure-entries/day")
		b.ReportMetric(float64(total), "entries/day")
	}
}

// A wall clock stepped back (a bad NTP answer, an RTC reset) must not hold
// back machine records for as long as the step: the pending erasure proof
// and the event window that began "in the future" end at the next tick.
func TestMachineRecordsAfterABackwardClockStep(t *testing.T) {
	s, clk, _ := manualStore(t)
	if err := s.RecordErasure(block("cam1", 0, 1, clk.Now())); err != nil {
		t.Fatal(err)
	}
	_ = s.RecordEvent(RecordingEvent{Camera: "cam1", Kind: "write-error", At: clk.Now()})
	_ = s.RecordEvent(RecordingEvent{Camera: "cam1", Kind: "write-error", At: clk.Now()})
	s.TickMachineRecords()
	if n := len(entriesOf(t, s, ActionRecordingEvent)); n != 1 {
		t.Fatalf("%d event entries before the step", n)
	}
	clk.Advance(-30 * 24 * time.Hour)
	if err := s.RecordErasure(block("cam1", 1, 1, clk.Now())); err != nil {
		t.Fatal(err)
	}
	s.TickMachineRecords()
	es := entriesOf(t, s, ActionErasure)
	if len(es) != 1 || es[0].Details["blocks"] != "1" {
		t.Fatalf("erasure proof pending since before the step: %+v", es)
	}
	ev := entriesOf(t, s, ActionRecordingEvent)
	if len(ev) != 2 || ev[1].Details["kind"] != "summary" || ev[1].Details["write-error"] != "1" {
		t.Fatalf("event window open since before the step: %+v", ev)
	}
	// From then on, hours and windows count on the stepped clock.
	clk.Advance(erasureProofEvery)
	s.TickMachineRecords()
	if es := entriesOf(t, s, ActionErasure); len(es) != 2 || es[1].Details["blocks"] != "1" {
		t.Fatalf("the proof begun after the step: %+v", es)
	}
}

// Refusals coalesced before a backward clock step are summarised at the
// next flush, not when the clock has caught up with the step.
func TestRefusalSummaryAfterABackwardClockStep(t *testing.T) {
	s, clk, _ := manualStore(t)
	for i := 0; i < 5; i++ {
		s.deny(operator, ActionLedgerExport, "ledger")
	}
	clk.Advance(-30 * 24 * time.Hour)
	s.flushRefusals(false)
	var counts []string
	for _, e := range entriesOf(t, s, ActionDenied) {
		counts = append(counts, e.Details["count"])
	}
	if len(counts) != 2 || counts[1] != "4" {
		t.Fatalf("denied entries' counts %q, want the first and a summary of 4", counts)
	}
}
