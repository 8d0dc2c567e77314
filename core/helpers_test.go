package core

import (
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/crypto/ssh"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond) // strictly increasing, like a real clock
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var t0 = time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newTestStore(t testing.TB, p Policy) (*Store, *clock, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mimamori.db")
	c := &clock{t: t0}
	s, err := Open(path, Options{Now: c.Now, Logger: quietLogger(), Policy: p})
	if err != nil {
		t.Fatal(err)
	}
	s.kdf = kdfParams{Time: 1, MemKiB: 1024, Threads: 1} // fast in tests
	t.Cleanup(func() { s.Close() })
	plantActors(t, s, operator, operator2)
	return s, c, path
}

// plantActors stores enrolled keys for the test actors (whose
// fingerprints are not real keys), so core finds them as people: a
// search is instructed to an enrolled operator's key.
func plantActors(t testing.TB, s *Store, actors ...Actor) {
	t.Helper()
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, a := range actors {
			k := Key{Fingerprint: a.Fingerprint, Name: a.Name, Role: a.Role, EnrolledAt: t0.Add(-time.Hour), EnrolledBy: "test"}
			if err := putJSON(tx.Bucket(bKeys), a.Fingerprint, k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func newAuthorizedKey(t testing.TB, comment string) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk))) + " " + comment
}

var (
	manager    = Actor{Fingerprint: "SHA256:manager", Name: "Manager Sato", Role: RoleManager}
	operator   = Actor{Fingerprint: "SHA256:operator", Name: "Operator Suzuki", Role: RoleOperator}
	operator2  = Actor{Fingerprint: "SHA256:operator2", Name: "Operator Tanaka", Role: RoleOperator}
	technician = Actor{Fingerprint: "SHA256:tech", Name: "Tech Ito", Role: RoleTechnician}
	system     = SystemActor("test")
)

func mustCamera(t testing.TB, s *Store, id string) {
	t.Helper()
	if _, err := s.AddCamera(manager, Camera{ID: id, Name: "Camera " + id, Location: "North gate", URL: "rtsp://127.0.0.1:8554/" + id}); err != nil {
		t.Fatal(err)
	}
}

func requestInput(cams ...string) RequestInput {
	if len(cams) == 0 {
		cams = []string{"cam1"}
	}
	return RequestInput{
		ApplicantAddress: "1-1 Chuo, Yotsukaido", Agency: "Yotsukaido Police Station", Representative: "Chief Kato",
		ContactPerson: "Inspector Mori", Phone: "043-000-0000", Purpose: "investigation", Ground: "law",
		Cameras: cams, From: t0.Add(-2 * time.Hour), To: t0.Add(-1 * time.Hour), WrittenRef: "Y-2026-17",
	}
}

// fakeFootage is a Footage that accepts holds up to a count.
type fakeFootage struct {
	mu       sync.Mutex
	maxHolds int
	checked  int
}

func (f *fakeFootage) Coverage(camera string, from, to time.Time) ([]Span, error) {
	return []Span{{Camera: camera, Start: from, End: to, Bytes: 1}}, nil
}
func (f *fakeFootage) Stats() RecorderStats {
	return RecorderStats{Ring: RingStats{CapacityBytes: 1 << 30}}
}
func (f *fakeFootage) CheckHold(camera string, from, to time.Time, active []HoldRange) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checked++
	if f.maxHolds > 0 && len(active) >= f.maxHolds {
		return ErrHoldCapacity
	}
	return nil
}

func lastEntry(t testing.TB, s *Store) Entry {
	t.Helper()
	es, err := s.Ledger(manager, s.LedgerHead(), 1)
	if err != nil || len(es) != 1 {
		t.Fatalf("last entry: %v %v", es, err)
	}
	return es[0]
}

// okJudgement is a manager's approval with the required statement.
var okJudgement = ApprovalInput{Judgement: "捜査に必要な範囲に限られ、第三者の権利利益を不当に侵害するおそれはない"}

// whole is the request's whole range on each camera, as a found result.
func whole(t testing.TB, s *Store, id string) []FoundRange {
	t.Helper()
	r, err := s.Request(manager, id)
	if err != nil {
		t.Fatal(err)
	}
	return requestedRanges(r)
}
