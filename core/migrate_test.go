package core

import (
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// fixtureDB is the database written by release 28ba08b (schema 1); see
// testdata/release-28ba08b/README.md at the repository root.
const fixtureDB = "../testdata/release-28ba08b/data/mimamori.db"

// copyFixtureDB copies the old release's database into a temporary dir.
func copyFixtureDB(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(fixtureDB)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "mimamori.db")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// rawSchema reads meta/schema without going through Open.
func rawSchema(t *testing.T, path string) uint64 {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v uint64
	if err := db.View(func(tx *bolt.Tx) error { var err error; v, err = readSchema(tx); return err }); err != nil {
		t.Fatal(err)
	}
	return v
}

func openAt(t *testing.T, path string) (*Store, error) {
	t.Helper()
	c := &clock{t: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}
	return Open(path, Options{Now: c.Now, Logger: quietLogger(), Policy: CompanyTemplate()})
}

// migrateEntries returns the schema.migrate entries of the ledger.
func migrateEntries(t *testing.T, s *Store) []Entry {
	t.Helper()
	es, err := s.Ledger(manager, 0, maxLedgerLimit)
	if err != nil {
		t.Fatal(err)
	}
	var out []Entry
	for _, e := range es {
		if e.Action == ActionSchemaMigrate {
			out = append(out, e)
		}
	}
	return out
}

func withMigrations(t *testing.T, ms []migration) {
	t.Helper()
	old := migrations
	migrations = ms
	t.Cleanup(func() { migrations = old })
}

func TestMigrateRelease28ba08b(t *testing.T) {
	path := copyFixtureDB(t)
	if v := rawSchema(t, path); v != 1 {
		t.Fatalf("fixture schema %d, want 1", v)
	}
	old, err := VerifyLedgerFile(path, VerifyOptions{})
	if err != nil || !old.OK {
		t.Fatalf("the old release's ledger: %+v %v", old, err)
	}
	s, err := openAt(t, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ms := migrateEntries(t, s)
	if len(ms) != int(latestSchema()-1) {
		t.Fatalf("%d schema.migrate entries, want %d", len(ms), latestSchema()-1)
	}
	for i, e := range ms {
		if e.Details["from"] != itoa(uint64(i+1)) || e.Details["to"] != itoa(uint64(i+2)) || e.Actor.Role != RoleSystem {
			t.Errorf("migration entry %d: %+v", i, e)
		}
	}
	if ms[0].Details["tree_size"] != itoa(old.Entries) {
		t.Errorf("ledger-tree step says %s leaves, the old ledger has %d", ms[0].Details["tree_size"], old.Entries)
	}
	rep, err := s.VerifyLedger(manager)
	if err != nil || !rep.OK {
		t.Fatalf("verify after migration: %+v %v", rep, err)
	}
	// v1 entries still decode: their role byte is the manager's.
	es, _ := s.Ledger(manager, 1, int(old.Entries))
	var v1Manager bool
	for _, e := range es {
		if e.Actor.Name == "管理 花子" && e.Actor.Role == RoleManager {
			v1Manager = true
		}
	}
	if !v1Manager {
		t.Error("no v1 entry by the manager decodes with role manager")
	}
	// And the old records are all readable.
	if rs, err := s.Requests(manager); err != nil || len(rs) != 6 {
		t.Errorf("requests: %d %v", len(rs), err)
	}
	s.Close()
	if v := rawSchema(t, path); v != latestSchema() {
		t.Errorf("schema after Open: %d, want %d", v, latestSchema())
	}
	// A second Open migrates nothing more.
	s2, err := openAt(t, path)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(migrateEntries(t, s2)); n != len(ms) {
		t.Errorf("reopening added migration entries: %d, then %d", len(ms), n)
	}
	s2.Close()
}

func itoa(v uint64) string { return strconv.FormatUint(v, 10) }

// TestOpenRefusesNewerSchema: what an older release does with a database
// a newer one has written — refuse, clearly, and change nothing.
func TestOpenRefusesNewerSchema(t *testing.T) {
	s, _, path := newTestStore(t, CityStandard())
	s.Close()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bMeta).Put(kSchema, be64(latestSchema()+1)) }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	before := fileSum(t, path)
	_, err = openAt(t, path)
	if !errors.Is(err, ErrSchemaNewer) || !strings.Contains(err.Error(), "newer release") || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("Open of a newer database: %v", err)
	}
	if _, err := VerifyLedgerFile(path, VerifyOptions{}); !errors.Is(err, ErrSchemaNewer) {
		t.Errorf("offline verify of a newer database: %v", err)
	}
	if fileSum(t, path) != before {
		t.Error("refusing a newer database changed the file")
	}
}

func TestOpenCorruptSchemaRecord(t *testing.T) {
	for _, v := range [][]byte{{1, 2, 3}, be64(0)} {
		s, _, path := newTestStore(t, CityStandard())
		s.Close()
		db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bMeta).Put(kSchema, v) }); err != nil {
			t.Fatal(err)
		}
		db.Close()
		before := fileSum(t, path)
		if _, err := openAt(t, path); err == nil || !strings.Contains(err.Error(), "meta/schema") || !strings.Contains(err.Error(), "damaged") {
			t.Errorf("corrupt schema %x: %v", v, err)
		}
		if fileSum(t, path) != before {
			t.Errorf("corrupt schema %x: the file changed", v)
		}
	}
}

// TestMigrationCrashBetweenSteps: the first step commits, the second
// fails (as a crash would leave it); the next Open carries on from the
// first and writes each step's entry exactly once.
func TestMigrationCrashBetweenSteps(t *testing.T) {
	path := copyFixtureDB(t)
	fail := true
	second := migration{To: 3, Name: "second", Run: func(tx *bolt.Tx, det map[string]string) (bool, error) {
		if fail {
			return false, errors.New("power cut")
		}
		det["note"] = "done"
		_, err := tx.CreateBucketIfNotExists([]byte("second"))
		return false, err
	}}
	withMigrations(t, []migration{migrations[0], second})
	_, err := openAt(t, path)
	if err == nil || !strings.Contains(err.Error(), "schema migration 2→3 (second): power cut") {
		t.Fatalf("Open with a failing step: %v", err)
	}
	if v := rawSchema(t, path); v != 2 {
		t.Fatalf("schema after a failure in step 2→3: %d, want 2", v)
	}
	fail = false
	s, err := openAt(t, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ms := migrateEntries(t, s)
	if len(ms) != 2 || ms[0].Details["step"] != "ledger-tree" || ms[1].Details["step"] != "second" || ms[1].Details["note"] != "done" {
		t.Fatalf("migration entries: %+v", ms)
	}
	if rep, err := s.VerifyLedger(manager); err != nil || !rep.OK {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}

// TestMigrationChunkedStepResumes: the ledger-tree step runs in chunks;
// a crash after some of them resumes where the last committed one ended.
func TestMigrationChunkedStepResumes(t *testing.T) {
	path := copyFixtureDB(t)
	oldChunk := migrateTreeChunk
	migrateTreeChunk = 7
	t.Cleanup(func() { migrateTreeChunk = oldChunk })
	calls, failAt := 0, 4
	step := migration{To: 2, Name: "ledger-tree", Run: func(tx *bolt.Tx, det map[string]string) (bool, error) {
		calls++
		if calls == failAt {
			return false, errors.New("power cut")
		}
		return migrateLedgerTree(tx, det)
	}}
	withMigrations(t, []migration{step})
	if _, err := openAt(t, path); err == nil {
		t.Fatal("Open survived the power cut")
	}
	if v := rawSchema(t, path); v != 1 {
		t.Fatalf("schema mid-step: %d", v)
	}
	failAt = -1
	s, err := openAt(t, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if rep, err := s.VerifyLedger(manager); err != nil || !rep.OK {
		t.Fatalf("verify after a resumed step: %+v %v", rep, err)
	}
	if n := len(migrateEntries(t, s)); n != 1 {
		t.Errorf("%d migration entries, want 1", n)
	}
	_ = s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bMeta).Get(kMigrateProgress) != nil {
			t.Error("progress key left behind")
		}
		return nil
	})
}

// TestMigrationStepThatPanics: a step that trips over a damaged record
// gives an error, never takes the process down, and changes nothing.
func TestMigrationStepThatPanics(t *testing.T) {
	path := copyFixtureDB(t)
	before := fileSum(t, path)
	withMigrations(t, []migration{{To: 2, Name: "boom", Run: func(tx *bolt.Tx, _ map[string]string) (bool, error) {
		var m map[string]int
		m["x"] = 1 // nil map write
		return false, nil
	}}})
	_, err := openAt(t, path)
	if err == nil || !strings.Contains(err.Error(), "schema migration 1→2 (boom): internal error") {
		t.Fatalf("Open with a panicking step: %v", err)
	}
	if v := rawSchema(t, path); v != 1 {
		t.Errorf("schema %d after a failed step", v)
	}
	if fileSum(t, path) != before {
		t.Error("a failed migration changed the file")
	}
	if rep, err := VerifyLedgerFile(path, VerifyOptions{}); err != nil || !rep.OK {
		t.Errorf("ledger after a failed migration: %+v %v", rep, err)
	}
}

func TestNewDatabaseStartsAtLatestSchema(t *testing.T) {
	s, _, path := newTestStore(t, CityStandard())
	if n := s.LedgerHead(); n != 0 {
		t.Errorf("a new database has %d ledger entries", n)
	}
	s.Close()
	if v := rawSchema(t, path); v != latestSchema() {
		t.Errorf("new database schema %d, want %d", v, latestSchema())
	}
}

// TestCorruptRecordGivesAClearError: a damaged record in the old data
// neither stops the upgrade nor panics; reading it names it.
func TestCorruptRecordGivesAClearError(t *testing.T) {
	path := copyFixtureDB(t)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bRequests).Put([]byte("R-2026-0003"), []byte("{\"ID\": 7")) })
	db.Close()
	s, err := openAt(t, path)
	if err != nil {
		t.Fatalf("a damaged request stopped the upgrade: %v", err)
	}
	defer s.Close()
	if _, err := s.Requests(manager); err == nil || !strings.Contains(err.Error(), "requests/R-2026-0003") {
		t.Errorf("reading the damaged request: %v", err)
	}
	if rep, err := s.VerifyLedger(manager); err != nil || !rep.OK {
		t.Errorf("ledger: %+v %v", rep, err)
	}
}
