package tui

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"mimamori/core"
)

// A real core on a temporary bbolt file, for the screens that record
// the register's people, signs, custody and inspections: each test drives
// the console and then reads what core stored and ledgered.

// recordedFootage stands in for the recorder: every camera recorded
// everything, holds always fit.
type recordedFootage struct{ cams []string }

func (recordedFootage) Coverage(camera string, from, to time.Time) ([]core.Span, error) {
	return []core.Span{{Camera: camera, Start: from, End: to}}, nil
}

func (f recordedFootage) Stats() core.RecorderStats {
	var st core.RecorderStats
	for _, c := range f.cams {
		st.Cameras = append(st.Cameras, core.CameraStats{Camera: c, Connected: true, State: "recording"})
	}
	return st
}

func (recordedFootage) CheckHold(string, time.Time, time.Time, []core.HoldRange) error { return nil }

type realCore struct {
	t       *testing.T
	st      *core.Store
	manager core.Actor

	mu sync.Mutex
	at time.Time // the store's and the console's clock
}

func (rc *realCore) now() time.Time {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.at
}

// advance moves the clock (an inspection falls due with time).
func (rc *realCore) advance(d time.Duration) {
	rc.mu.Lock()
	rc.at = rc.at.Add(d)
	rc.mu.Unlock()
}

// newRealCore opens a store under policy p with two cameras (no sign, no
// police date) and a manager enrolled with a complete record.
func newRealCore(t *testing.T, p core.Policy) *realCore {
	t.Helper()
	rc := &realCore{t: t, at: time.Now().UTC().Truncate(time.Second)}
	st, err := core.Open(filepath.Join(t.TempDir(), "mimamori.db"), core.Options{Policy: p, Now: rc.now})
	if err != nil {
		t.Fatal(err)
	}
	rc.st = st
	t.Cleanup(func() { _ = st.Close() })
	st.SetFootage(recordedFootage{cams: []string{"cam1", "cam2"}})
	sys := core.SystemActor("test")
	if err := st.SyncCameras(sys, []core.Camera{
		{ID: "cam1", Number: "1", Name: "駅前", Location: "四街道駅北口", Direction: "北向き", URL: "rtsp://127.0.0.1:1/cam1"},
		{ID: "cam2", Number: "2", Name: "公園", Location: "中央公園 入口", URL: "rtsp://127.0.0.1:1/cam2"},
	}); err != nil {
		t.Fatal(err)
	}
	rc.manager = rc.enrol("山田 太郎", core.RoleManager, true)
	return rc
}

// enrol enrols a new key for name; complete gives it 職名, 所属 and the
// pledge, otherwise it is a bare bootstrap key.
func (rc *realCore) enrol(name string, role core.Role, complete bool) core.Actor {
	rc.t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := gossh.NewSignerFromKey(priv)
	line := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(signer.PublicKey())))
	in := core.Enrolment{Name: name, Role: role, AuthorizedKey: line}
	if complete {
		in.JobTitle, in.Section, in.Pledged = "係長", "危機管理室", true
	}
	k, err := rc.st.EnrollPerson(core.SystemActor("bootstrap"), in)
	if err != nil {
		rc.t.Fatalf("enrol %s: %v", name, err)
	}
	return k.Actor()
}

// console is a quiet console for actor on this core at w×h.
func (rc *realCore) console(actor core.Actor, lang string, w, h int, set func(*Common)) *UI {
	rc.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	rc.t.Cleanup(cancel)
	c := Common{Ctx: ctx, Renderer: asciiRenderer(), Actor: actor, Core: rc.st, Lang: lang, Location: testLoc,
		Width: w, Height: h, Appliance: "mimamori", Now: rc.now}
	if set != nil {
		set(&c)
	}
	u := New(c).(*UI)
	u.quiet = true
	run(u, u.Init())
	return u
}

// entries are the ledger entries of action, oldest first.
func (rc *realCore) entries(action core.Action) []core.Entry {
	rc.t.Helper()
	es, err := rc.st.Ledger(rc.manager, 0, 10000)
	if err != nil {
		rc.t.Fatal(err)
	}
	var out []core.Entry
	for _, e := range es {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}

// key reads a key's record as the manager sees it.
func (rc *realCore) key(fp string) core.Key {
	rc.t.Helper()
	ks, err := rc.st.Keys(rc.manager)
	if err != nil {
		rc.t.Fatal(err)
	}
	for _, k := range ks {
		if k.Fingerprint == fp {
			return k
		}
	}
	rc.t.Fatalf("no key %s", fp)
	return core.Key{}
}

func (rc *realCore) camera(id string) core.Camera {
	rc.t.Helper()
	c, err := rc.st.Camera(rc.manager, id)
	if err != nil {
		rc.t.Fatal(err)
	}
	return c
}

func (rc *realCore) warningCodes(subject string) []string {
	rc.t.Helper()
	ws, err := rc.st.ComplianceWarnings(rc.manager)
	if err != nil {
		rc.t.Fatal(err)
	}
	var out []string
	for _, w := range ws {
		if subject == "" || w.Subject == subject {
			out = append(out, w.Code)
		}
	}
	return out
}

// cursorTo moves a list's cursor to the row whose text contains want.
func cursorTo(t *testing.T, u *UI, want string) {
	t.Helper()
	for range 20 {
		for _, l := range strings.Split(u.View(), "\n") {
			if strings.HasPrefix(l, "> ") && strings.Contains(l, want) {
				return
			}
		}
		keys(u, "j")
	}
	t.Fatalf("no row with %q:\n%s", want, u.View())
}

// typeText types v into the focused input, after clearing it.
func typeText(u *UI, v string) { keys(u, "ctrl+u", v) }

// shows fails unless every text is on the console's screen.
func shows(t *testing.T, u *UI, texts ...string) {
	t.Helper()
	v := u.View()
	for _, x := range texts {
		if !strings.Contains(v, x) {
			t.Errorf("screen lacks %q:\n%s", x, v)
		}
	}
}
