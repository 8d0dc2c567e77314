package playback_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"

	"mimamori/core"
	"mimamori/recorder"
	"mimamori/recorder/clip"
	"mimamori/recorder/clip/cliptest"
	"mimamori/recorder/playback"
	"mimamori/recorder/ring"
)

// fakeCore authorizes managers and operators and keeps the viewings.
type fakeCore struct {
	mu       sync.Mutex
	authz    int
	viewings []core.ViewRecord
	recorded chan core.ViewRecord
}

func newFakeCore() *fakeCore { return &fakeCore{recorded: make(chan core.ViewRecord, 16)} }

func (c *fakeCore) AuthorizeView(a core.Actor, v core.ViewInput) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.authz++
	if a.Role != core.RoleManager && a.Role != core.RoleOperator {
		return fmt.Errorf("%w: role %s may not view", core.ErrForbidden, a.Role)
	}
	return nil
}

func (c *fakeCore) RecordViewing(a core.Actor, v core.ViewRecord) error {
	c.mu.Lock()
	c.viewings = append(c.viewings, v)
	c.mu.Unlock()
	c.recorded <- v
	return nil
}

func (c *fakeCore) next(t *testing.T) core.ViewRecord {
	t.Helper()
	select {
	case v := <-c.recorded:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("no viewing ledgered")
		return core.ViewRecord{}
	}
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

var (
	operator   = core.Actor{Fingerprint: "SHA256:op", Name: "Operator", Role: core.RoleOperator}
	technician = core.Actor{Fingerprint: "SHA256:tech", Name: "Tech", Role: core.RoleTechnician}
	t0         = time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
)

type env struct {
	rg   *ring.Ring
	core *fakeCore
	clk  *clock
	live *recorder.Live
	pb   *playback.Server
}

func newEnv(t *testing.T, minutes int) *env {
	t.Helper()
	rg, err := ring.Open(ring.Options{Dir: t.TempDir(), Capacity: 64 << 20, BlockSize: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rg.Close() })
	if _, _, err := cliptest.Fill(rg, cliptest.Options{Camera: "cam1", Start: t0, Duration: time.Duration(minutes) * time.Minute}); err != nil {
		t.Fatal(err)
	}
	e := &env{rg: rg, core: newFakeCore(), clk: &clock{t: t0.Add(time.Hour)}, live: recorder.NewLive()}
	e.pb, err = playback.New(playback.Options{Footage: rg, Live: e.live, Core: e.core, Now: e.clk.Now, MaxTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.pb.Close() })
	return e
}

// client reaches the playback server the way a forwarded channel of the
// SSH connection origin does.
func (e *env) client(origin string) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		a, b := net.Pipe()
		if err := e.pb.ServeConn(b, origin); err != nil {
			return nil, err
		}
		return a, nil
	}}, Timeout: 30 * time.Second}
}

func get(t *testing.T, c *http.Client, path string, hdr ...string) (int, []byte, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1/"+path[1:], nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s body: %v", path, err)
	}
	return resp.StatusCode, b, resp.Header
}

func grant(camera string, from, to time.Time) playback.Grant {
	return playback.Grant{Actor: operator, SessionID: "s-1", Origin: "conn-A", View: core.ViewInput{Camera: camera, From: from, To: to, Reason: "test"}}
}

func TestRecordingBitExactAndRanges(t *testing.T) {
	e := newEnv(t, 2)
	from, to := t0.Add(20*time.Second), t0.Add(80*time.Second)
	tk, err := e.pb.Mint(grant("cam1", from, to))
	if err != nil {
		t.Fatal(err)
	}
	if len(tk.Files) != 1 || len(tk.Token) != 43 {
		t.Fatalf("ticket %+v", tk)
	}
	pieces, err := clip.Plan(e.rg, "cam1", from, to)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if _, err := pieces[0].WriteTo(&want); err != nil {
		t.Fatal(err)
	}
	c := e.client("conn-A")
	code, body, h := get(t, c, tk.Files[0].Path)
	if code != http.StatusOK || h.Get("Content-Type") != "video/mp4" {
		t.Fatalf("GET: %d %v", code, h)
	}
	if !bytes.Equal(body, want.Bytes()) || int64(len(body)) != tk.Files[0].Size {
		t.Fatalf("body %d bytes, want the clip's %d", len(body), want.Len())
	}
	var init fmp4.Init
	if err := init.Unmarshal(bytes.NewReader(body)); err != nil {
		t.Fatalf("not MP4: %v", err)
	}
	// Seeking: a player asks for byte ranges.
	code, part, h := get(t, c, tk.Files[0].Path, "Range", "bytes=1000-4999")
	if code != http.StatusPartialContent || !bytes.Equal(part, want.Bytes()[1000:5000]) {
		t.Fatalf("range: %d, %d bytes, %s", code, len(part), h.Get("Content-Range"))
	}
	e.pb.EndSession("s-1")
	v := e.core.next(t)
	if v.Bytes != int64(len(body)+len(part)) || v.Camera != "cam1" || v.Live || !v.From.Equal(from) || v.SessionID != "s-1" {
		t.Fatalf("viewing %+v, want %d bytes", v, len(body)+len(part))
	}
	if code, _, _ := get(t, c, tk.Files[0].Path); code != http.StatusForbidden {
		t.Fatalf("after session end: %d", code)
	}
}

func TestTokensRefused(t *testing.T) {
	e := newEnv(t, 1)
	tk, err := e.pb.Mint(grant("cam1", t0, t0.Add(30*time.Second)))
	if err != nil {
		t.Fatal(err)
	}
	path := tk.Files[0].Path
	// Another SSH connection's forward, a made-up token, a wrong file.
	for _, c := range []struct {
		origin, path string
	}{
		{"conn-B", path},
		{"conn-A", "/v/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/recording.mp4"},
		{"conn-A", "/v/" + tk.Token + "/live.mp4"},
		{"conn-A", "/v/" + tk.Token + "/recording-2.mp4"},
		{"conn-A", "/v/" + tk.Token},
	} {
		if code, _, _ := get(t, e.client(c.origin), c.path); code != http.StatusForbidden {
			t.Fatalf("%s via %s: %d, want 403", c.path, c.origin, code)
		}
	}
	if code, _, _ := get(t, e.client("conn-A"), path); code != http.StatusOK {
		t.Fatalf("own token: %d", code)
	}
	// Expiry by the clock.
	e.clk.Add(time.Hour + time.Second)
	if code, _, _ := get(t, e.client("conn-A"), path); code != http.StatusForbidden {
		t.Fatalf("expired token: %d", code)
	}
	if v := e.core.next(t); v.Bytes != tk.Files[0].Size {
		t.Fatalf("viewing %+v", v)
	}
	if e.pb.Tokens() != 0 {
		t.Fatalf("%d tokens left", e.pb.Tokens())
	}
	// Nobody but a role core allows gets a token at all.
	g := grant("cam1", t0, t0.Add(30*time.Second))
	g.Actor = technician
	if _, err := e.pb.Mint(g); !errors.Is(err, core.ErrForbidden) {
		t.Fatalf("technician mint: %v", err)
	}
	if _, err := e.pb.Mint(grant("cam1", t0.Add(-time.Hour), t0.Add(-time.Minute))); !errors.Is(err, clip.ErrNoFootage) {
		t.Fatalf("no footage: %v", err)
	}
}

func TestDirectConnectionRefused(t *testing.T) {
	e := newEnv(t, 1)
	if _, err := e.pb.Mint(grant("cam1", t0, t0.Add(30*time.Second))); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", e.pb.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	var ne net.Error
	if len(b) != 0 || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("direct connection got %q, %v; want it closed unanswered", b, err)
	}
}

func TestLiveStream(t *testing.T) {
	e := newEnv(t, 1)
	refs, err := e.rg.Fragments("cam1", t0, t0.Add(time.Minute))
	if err != nil || len(refs) < 10 {
		t.Fatalf("%d refs: %v", len(refs), err)
	}
	g := playback.Grant{Actor: operator, SessionID: "s-2", Origin: "conn-A", View: core.ViewInput{Camera: "cam1", Live: true}}
	tk, err := e.pb.Mint(g)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1"+tk.Files[0].Path, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := make(chan struct{})
	published := make(chan []byte, 1)
	go func() {
		// The recorder publishes fragments as they arrive; start with a
		// non-keyframe, which the stream must skip.
		var sent bytes.Buffer
		for i := 1; ; i = (i + 1) % len(refs) {
			b, err := e.rg.ReadFragment(refs[i])
			if err != nil {
				published <- nil
				return
			}
			for e.live.Subscribers("cam1") == 0 {
				select {
				case <-stop:
					published <- sent.Bytes()
					return
				case <-time.After(5 * time.Millisecond):
				}
			}
			if refs[i].Keyframe || sent.Len() > 0 {
				sent.Write(b)
			}
			e.live.Publish(recorder.LiveFragment{Camera: "cam1", Start: refs[i].Start, Duration: refs[i].Duration,
				Keyframe: refs[i].Keyframe, InitID: refs[i].InitID, Payload: b})
			select {
			case <-stop:
				published <- sent.Bytes()
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	resp, err := e.client("conn-A").Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	init, _ := e.rg.Init("cam1", refs[0].InitID)
	want := len(init) + 300_000
	got := make([]byte, want)
	if _, err := io.ReadFull(resp.Body, got); err != nil {
		t.Fatal(err)
	}
	cancel()
	resp.Body.Close()
	close(stop)
	sent := <-published
	if !bytes.Equal(got[:len(init)], init) {
		t.Fatal("live stream does not start with the init segment")
	}
	if !bytes.Equal(got[len(init):], sent[:want-len(init)]) {
		t.Fatal("live stream bytes differ from the published fragments (from the first keyframe)")
	}
	var in fmp4.Init
	if err := in.Unmarshal(bytes.NewReader(got[:len(init)])); err != nil {
		t.Fatalf("live init: %v", err)
	}
	e.pb.EndSession("s-2")
	if v := e.core.next(t); !v.Live || v.Bytes < int64(want) {
		t.Fatalf("live viewing %+v, want at least %d bytes", v, want)
	}
}
