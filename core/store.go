package core

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	bMeta        = []byte("meta")
	bLedger      = []byte("ledger")
	bKeys        = []byte("keys")
	bRefused     = []byte("refused")
	bCameras     = []byte("cameras")
	bRequests    = []byte("requests")
	bHolds       = []byte("holds")
	bInquiries   = []byte("inquiries")
	bMaintenance = []byte("maintenance")
	bGrants      = []byte("grants")
	bCounters    = []byte("counters")
	bCustody     = []byte("custody")      // where the recorder is kept (custody.go)
	bLayouts     = []byte("layouts")      // layout plan metadata (custody.go)
	bLayoutFiles = []byte("layout_files") // layout plan files by id

	allBuckets = [][]byte{bMeta, bLedger, bKeys, bRefused, bCameras, bRequests,
		bHolds, bErasureWindow, bErasureRecent, bErasurePending, bInquiries, bMaintenance, bGrants, bCounters,
		bCustody, bLayouts, bLayoutFiles, bTlog}

	kSchema     = []byte("schema")
	kLedgerHead = []byte("ledger_head")
	kPassphrase = []byte("export_passphrase")
)

// Options configure a Store. Zero values are usable.
type Options struct {
	Now    func() time.Time // clock; defaults to time.Now
	Logger *slog.Logger     // defaults to slog.Default()
	Policy Policy           // defaults to CityStandard()
	// ManualTick: no background writer for machine records; the caller
	// calls TickMachineRecords after moving its clock (simulations, tests).
	ManualTick bool
	// NoSync skips fsync on commit. Simulations only (the soak): a crash
	// may lose committed changes.
	NoSync bool
}

// Store is the appliance's domain on one bbolt file. Every state change
// goes through mutate: permission check, change and ledger entry in one
// transaction.
type Store struct {
	db     *bolt.DB
	now    func() time.Time
	log    *slog.Logger
	policy Policy

	footMu    sync.RWMutex
	footage   Footage
	trusted   TrustedClock // decides hold lapses and copies' expiry (trustedclock.go)
	exports   exportSlot   // export engine and running exports (export.go)
	passMu    sync.Mutex   // one export-passphrase check at a time (passphrase.go)
	passGuard passGuard    // each key's wrong export passphrases in a row (passphrase.go)
	backupMu  sync.Mutex   // one online backup at a time (backup.go)

	hub     hub
	holds   atomic.Pointer[[]HoldRange] // active holds, rebuilt after each hold change
	holdMu  sync.Mutex                  // serialises hold capacity checks with hold writes
	refused refusedLimiter

	refusals    refusalLog    // coalesced denied entries (refusals.go)
	changes     changeLimiter // per-key change rate (changerate.go)
	flushStop   chan struct{}
	flusherDone chan struct{}
	stopFlusher sync.Once

	// Group commit (commit.go).
	calls         chan *call
	closing       chan struct{}
	closeOnce     sync.Once
	committerDone chan struct{}
	commits       atomic.Uint64 // group transactions run (benchmarks report writes/commit)

	// Machine records (recorder.go, events.go, machine.go).
	events      eventLog
	machineStop chan struct{}
	machineDone chan struct{}
	machineOnce sync.Once
	manualTick  bool

	watch  ledgerWatch               // verified watermark of the standing check (watch.go)
	signer atomic.Pointer[logSigner] // signs checkpoints (checkpoint.go)

	exportDir atomic.Pointer[string] // where packages are now (fetch.go)

	bg sync.WaitGroup // background work that Close waits for

	// Test hooks (never set outside tests).
	failAppend func() error
	kdf        kdfParams
}

// Open opens (creating if needed) the database at path.
func Open(path string, o Options) (*Store, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Policy.Name == "" {
		o.Policy = CityStandard()
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: time.Second,
		// Not persisting the freelist roughly quarters commit cost (fewer
		// pages written and synced per commit); bbolt rebuilds it at open.
		NoFreelistSync:  true,
		FreelistType:    bolt.FreelistMapType,
		InitialMmapSize: 256 << 20, // fewer remaps, which block on readers
		NoSync:          o.NoSync,
	})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s := &Store{db: db, now: o.Now, log: o.Logger, policy: o.Policy, kdf: defaultKDF, manualTick: o.ManualTick}
	s.exports.running = map[string]bool{}
	s.hub.init()
	// Look before writing anything: a database from a newer release is
	// refused untouched.
	ver, err := checkSchema(db)
	if err == nil {
		err = s.migrate(ver)
	}
	if err == nil {
		err = s.reloadHolds()
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s.startCommitter()
	s.flushStop, s.flusherDone = make(chan struct{}), make(chan struct{})
	go s.refusalFlusher()
	s.startMachine()
	s.firstPass()
	return s, nil
}

// Close closes subscriptions and the database.
func (s *Store) Close() error {
	s.stopFlusher.Do(func() {
		close(s.flushStop)
		<-s.flusherDone
		s.flushRefusals(true) // the counts of floods still in their window
	})
	s.stopMachine()
	s.stopCommitter()
	s.bg.Wait()
	s.hub.closeAll()
	return s.db.Close()
}

// SetFootage plugs the recorder in. It may be called at any time.
func (s *Store) SetFootage(f Footage) {
	s.footMu.Lock()
	s.footage = f
	s.footMu.Unlock()
}

func (s *Store) foot() Footage {
	s.footMu.RLock()
	defer s.footMu.RUnlock()
	return s.footage
}

// Policy returns the profile the store was opened with.
func (s *Store) Policy() Policy { return s.policy }

func (s *Store) nowUTC() time.Time { return s.now().UTC() }

// draft is a ledger entry a change wants written. Action defaults to the
// action being performed.
type draft struct {
	Action  Action
	Subject string
	Details map[string]string
}

// change applies a state change inside tx and returns the entries to
// write. It may run more than once (Batch retries), so it must only touch
// tx and values it resets itself. Returning no drafts means "nothing
// changed" and writes nothing.
type change func(tx *bolt.Tx) ([]draft, error)

// mutate is the only way state changes: (1) permission, (2) change,
// (3) ledger, with (2) and (3) in the same transaction. Changes are
// published to subscribers after commit.
func (s *Store) mutate(actor Actor, action Action, subject string, fn change) ([]Entry, error) {
	if !Allowed(actor.Role, action) {
		return nil, s.deny(actor, action, subject)
	}
	if err := s.limitChange(actor, action, subject); err != nil { // changerate.go
		return nil, err
	}
	return s.mutateHappened(actor, action, subject, fn)
}

// mutateHappened is mutate for the record of something that has already
// happened (the end of a fetch whose start was ledgered): not held to the
// key's change rate, since it must be ledgered whatever the rate.
func (s *Store) mutateHappened(actor Actor, action Action, subject string, fn change) ([]Entry, error) {
	if !Allowed(actor.Role, action) {
		return nil, s.deny(actor, action, subject)
	}
	var entries []Entry
	err := s.write(func(tx *bolt.Tx) error {
		entries = entries[:0]
		drafts, err := fn(tx)
		if err != nil {
			return err
		}
		for _, d := range drafts {
			a := d.Action
			if a == "" {
				a = action
			}
			e, err := s.appendEntry(tx, actor, a, d.Subject, d.Details)
			if err != nil {
				return err
			}
			entries = append(entries, e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		s.hub.publish(Change{Seq: e.Seq, Action: e.Action, Subject: e.Subject})
	}
	return entries, nil
}

// deny records a forbidden attempt (coalesced: refusals.go) and returns
// the ErrForbidden to give the caller.
func (s *Store) deny(actor Actor, action Action, subject string) error {
	s.refuse(actor, string(action), "", "", subject)
	return fmt.Errorf("%w: role %s may not %s", ErrForbidden, actor.Role, action)
}

// check is for reads: permission only, with the denied entry on refusal.
func (s *Store) check(actor Actor, action Action, subject string) error {
	if !Allowed(actor.Role, action) {
		return s.deny(actor, action, subject)
	}
	return nil
}

func be64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

func putJSON(b *bolt.Bucket, key string, v any) error {
	buf, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put([]byte(key), buf)
}

// getJSON decodes key into v; ok is false if absent.
func getJSON(b *bolt.Bucket, key string, v any) (bool, error) {
	raw := b.Get([]byte(key))
	if raw == nil {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return true, fmt.Errorf("decode %s: %w", key, err)
	}
	return true, nil
}

// listJSON decodes every value of bucket name into a new T.
// readAll is a permission-checked read of every record in a bucket; a
// refusal is ledgered like any other.
func readAll[T any](s *Store, actor Actor, action Action, bucket []byte) ([]T, error) {
	if err := s.check(actor, action, ""); err != nil {
		return nil, err
	}
	var out []T
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = listJSON[T](tx, bucket)
		return err
	})
	return out, err
}

func listJSON[T any](tx *bolt.Tx, name []byte) ([]T, error) {
	var out []T
	err := tx.Bucket(name).ForEach(func(k, v []byte) error {
		var t T
		if err := json.Unmarshal(v, &t); err != nil {
			return fmt.Errorf("decode %s/%s: %w", name, k, err)
		}
		out = append(out, t)
		return nil
	})
	return out, err
}

// nextID returns a human-readable id like R-2026-0001, counting per
// prefix and year.
func nextID(tx *bolt.Tx, prefix string, now time.Time) (string, error) {
	b := tx.Bucket(bCounters)
	key := []byte(fmt.Sprintf("%s-%04d", prefix, now.Year()))
	var n uint64
	if v := b.Get(key); len(v) == 8 {
		n = binary.BigEndian.Uint64(v)
	}
	n++
	if err := b.Put(key, be64(n)); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s-%04d", key, n), nil
}

func notFound(kind, id string) error { return fmt.Errorf("%w: %s %q", ErrNotFound, kind, id) }

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// ledgerSafe cleans text that came from someone who was refused: at most
// max characters, nothing a terminal would act on; see CleanText (text.go).
func ledgerSafe(v string, max int) string { return CleanText(v, max) }
