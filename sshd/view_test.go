package sshd

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	gossh "golang.org/x/crypto/ssh"

	"mimamori/core"
	"mimamori/recorder"
	"mimamori/recorder/clip"
	"mimamori/recorder/playback"
	"mimamori/simcam"
)

type nopRecLedger struct{}

func (nopRecLedger) RecordErasure(core.Erasure) error       { return nil }
func (nopRecLedger) RecordEvent(core.RecordingEvent) error  { return nil }
func (nopRecLedger) ActiveHolds(time.Time) []core.HoldRange { return nil }

type pbClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *pbClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return time.Now().Add(c.off) }
func (c *pbClock) Add(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

type viewRig struct {
	*fixture
	rec   *recorder.Recorder
	pb    *playback.Server
	clk   *pbClock
	start time.Time
}

// newViewRig records a simulated camera over real RTSP into a real ring and
// serves it through a real SSH server with viewing enabled.
func newViewRig(t *testing.T) *viewRig {
	t.Helper()
	cam, err := simcam.New(simcam.Options{Listen: "127.0.0.1:0", Cameras: 1, Codec: "h264", Bitrate: 1_000_000})
	if err != nil {
		t.Fatal(err)
	}
	if err := cam.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cam.Close)
	rec, err := recorder.New(recorder.Options{DataDir: t.TempDir(), Capacity: 64 << 20, BlockSize: 1 << 20,
		SyncInterval: 200 * time.Millisecond, Cameras: []recorder.Camera{{ID: "cam1", URL: cam.URL(1)}}, Ledger: nopRecLedger{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	start := time.Now().UTC()
	go func() { defer close(done); rec.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; rec.Close() })

	r := &viewRig{rec: rec, clk: &pbClock{}, start: start}
	r.fixture = newFixture(t, func(o *Options) {
		r.pb, err = playback.New(playback.Options{Footage: rec.Ring(), Live: rec.Live(), Core: o.Core, Now: r.clk.Now,
			MaxTTL: time.Hour, Logger: o.Logger})
		if err != nil {
			t.Fatal(err)
		}
		EnableViewing(o, r.pb)
	})
	t.Cleanup(func() { r.pb.Close() }) // before the fixture closes the store: viewings get ledgered
	if _, err := r.store.AddCamera(r.manager.actor, core.Camera{ID: "cam1", Name: "Gate", Location: "North gate", URL: cam.URL(1)}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(4 * time.Second) // footage to view
	return r
}

// startView runs a view command on c and returns its JSON answer and the
// session (still open: the command waits).
func startView(t *testing.T, c *gossh.Client, cmd string) (viewJSON, *gossh.Session) {
	t.Helper()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	s.Stderr = &stderr
	if err := s.Start(cmd); err != nil {
		t.Fatal(err)
	}
	var v viewJSON
	dec := make(chan error, 1)
	go func() { dec <- json.NewDecoder(out).Decode(&v) }()
	select {
	case err := <-dec:
		if err != nil {
			t.Fatalf("%s: %v (stderr %q)", cmd, err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: no answer (stderr %q)", cmd, stderr.String())
	}
	go io.Copy(io.Discard, out) //nolint:errcheck
	return v, s
}

// httpVia fetches url through a direct-tcpip forward of c.
func httpVia(c *gossh.Client, addr string) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return c.Dial("tcp", addr) },
	}}
}

func fetch(t *testing.T, hc *http.Client, url string, hdr ...string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, b
}

// splitMP4 splits an fMP4 file into its init segment (ftyp+moov) and the
// moof+mdat rest.
func splitMP4(t *testing.T, b []byte) ([]byte, []byte) {
	t.Helper()
	off := 0
	for off+8 <= len(b) {
		size := int(binary.BigEndian.Uint32(b[off:]))
		if string(b[off+4:off+8]) == "moof" {
			return b[:off], b[off:]
		}
		if size < 8 || off+size > len(b) {
			break
		}
		off += size
	}
	t.Fatalf("no moof in %d bytes", len(b))
	return nil, nil
}

// accessUnits parses fMP4 fragments into H.264 access units.
func accessUnits(t *testing.T, frags []byte) [][][]byte {
	t.Helper()
	var parts fmp4.Parts
	if err := parts.Unmarshal(frags); err != nil {
		t.Fatalf("fragments do not parse: %v", err)
	}
	var aus [][][]byte
	for _, p := range parts {
		for _, tr := range p.Tracks {
			for _, s := range tr.Samples {
				var au h264.AVCC
				if err := au.Unmarshal(s.Payload); err != nil {
					t.Fatalf("sample: %v", err)
				}
				aus = append(aus, au)
			}
		}
	}
	return aus
}

func sameNALUs(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func viewEntries(es []core.Entry, phase string) []core.Entry {
	var out []core.Entry
	for _, e := range es {
		if e.Action == core.ActionView && e.Details["phase"] == phase {
			out = append(out, e)
		}
	}
	return out
}

func TestViewThroughSSHForward(t *testing.T) {
	r := newViewRig(t)
	from := r.start.Format(time.RFC3339)
	to := time.Now().UTC().Add(time.Second).Format(time.RFC3339)
	rangeCmd := "view cam1 --from " + from + " --to " + to + " --json"

	// Under the city policy an operator views recorded footage only for a
	// request whose search was instructed to them (000 §9-2).
	_, stderr, code := r.run(r.oper, rangeCmd)
	if code != ExitError || !strings.Contains(stderr, "request") {
		t.Fatalf("operator view without a request: exit %d, %q", code, stderr)
	}
	req, err := r.store.RegisterRequest(r.oper.actor, core.RequestInput{Agency: "Police", ApplicantAddress: "1-1",
		Representative: "Chief", ContactPerson: "Mori", Phone: "043", Purpose: "investigation", Ground: "law",
		Cameras: []string{"cam1"}, From: r.start.Add(-time.Minute), To: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	_, stderr, code = r.run(r.oper, rangeCmd+" --request "+req.ID)
	if code != ExitError || !strings.Contains(stderr, "forbidden") || !strings.Contains(stderr, "is registered; its footage is viewed between the instruction to search and the handover") {
		t.Fatalf("operator view for a request not instructed to them: exit %d, %q", code, stderr)
	}
	if _, err := r.store.InstructSearch(r.manager.actor, req.ID, r.oper.actor.Name); err != nil {
		t.Fatal(err)
	}
	opRangeCmd := rangeCmd + " --request " + req.ID

	opConn, err := r.dial(r.oper)
	if err != nil {
		t.Fatal(err)
	}
	defer opConn.Close()
	v, opSess := startView(t, opConn, opRangeCmd)
	defer opSess.Close()
	if v.Port != r.pb.Port() || v.LocalPort != v.Port || !strings.HasSuffix(v.URL, "/v/"+v.Token+"/recording.mp4") ||
		len(v.Token) != 43 || !strings.Contains(v.SSHCommand, "ssh -L ") || v.Expires == "" || v.Request != req.ID ||
		!strings.Contains(v.SSHCommand, "--request "+req.ID) {
		t.Fatalf("view answer %+v", v)
	}
	if !hasEntry(r.entries(), func(e core.Entry) bool {
		return e.Action == core.ActionView && e.Actor.Fingerprint == r.oper.actor.Fingerprint &&
			e.Details["phase"] == "authorized" && e.Details["request"] == req.ID
	}) {
		t.Fatal("the authorized view does not name the request in the ledger")
	}
	opHTTP := httpVia(opConn, r.pb.Addr())

	// The operator's token, through the operator's own forward: the
	// recorded access units, bit exact.
	code, body := fetch(t, opHTTP, v.URL)
	if code != http.StatusOK {
		t.Fatalf("GET recording: %d %s", code, body)
	}
	init, frags := splitMP4(t, body)
	var in fmp4.Init
	if err := in.Unmarshal(bytes.NewReader(init)); err != nil {
		t.Fatalf("init segment: %v", err)
	}
	if _, ok := in.Tracks[0].Codec.(*fmp4.CodecH264); !ok {
		t.Fatalf("codec %T", in.Tracks[0].Codec)
	}
	got := accessUnits(t, frags)
	fromT, _ := time.Parse(time.RFC3339, from)
	toT, _ := time.Parse(time.RFC3339, to)
	pieces, err := clip.Plan(r.rec.Ring(), "cam1", fromT, toT)
	if err != nil || len(pieces) != 1 {
		t.Fatalf("plan: %d pieces, %v", len(pieces), err)
	}
	var want [][][]byte
	for _, ref := range pieces[0].Refs {
		b, err := r.rec.Ring().ReadFragment(ref)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, accessUnits(t, b)...)
	}
	if len(got) < 30 || len(got) != len(want) {
		t.Fatalf("%d access units served, %d recorded", len(got), len(want))
	}
	for i := range want {
		if !sameNALUs(got[i], want[i]) {
			t.Fatalf("access unit %d differs from the recording", i)
		}
	}
	// ... and what the camera sent.
	sent, err := simcam.Stream("h264", 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	at := -1
	for i := range sent {
		if sent[i].IDR && sameNALUs(sent[i].NALUs, got[0]) {
			at = i
			break
		}
	}
	if at < 0 {
		t.Fatal("first served access unit is not an IDR the camera sent")
	}
	for i, au := range got {
		if !sameNALUs(sent[(at+i)%len(sent)].NALUs, au) {
			t.Fatalf("access unit %d differs from what the camera sent", i)
		}
	}
	// Seeking.
	code, part := fetch(t, opHTTP, v.URL, "Range", "bytes=100-1099")
	if code != http.StatusPartialContent || !bytes.Equal(part, body[100:1100]) {
		t.Fatalf("range request: %d, %d bytes", code, len(part))
	}

	// Forwards anywhere else are refused.
	for _, dest := range []string{"127.0.0.1:22", net.JoinHostPort("127.0.0.1", itoa(r.pb.Port()+1)), net.JoinHostPort("10.1.2.3", itoa(r.pb.Port()))} {
		if c, err := opConn.Dial("tcp", dest); err == nil {
			c.Close()
			t.Fatalf("forward to %s accepted", dest)
		}
	}
	if !hasEntry(r.entries(), func(e core.Entry) bool {
		return e.Action == core.ActionDenied && e.Subject == "forward" && e.Details["dest"] == "127.0.0.1:22"
	}) {
		t.Fatal("refused forward not in the ledger")
	}

	// A technician gets no token and no forward.
	_, stderr, code2 := r.run(r.tech, opRangeCmd)
	if code2 != ExitError || !strings.Contains(stderr, "forbidden") {
		t.Fatalf("technician view: exit %d, %q", code2, stderr)
	}
	techConn, err := r.dial(r.tech)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := techConn.Dial("tcp", r.pb.Addr()); err == nil {
		c.Close()
		t.Fatal("technician forward to playback accepted")
	} else if !strings.Contains(err.Error(), "technician may not view") {
		// Not "only the playback address may be forwarded": it was.
		t.Fatalf("technician's refused forward says: %v", err)
	}
	techConn.Close()

	// Another session's token: the manager's token through the operator's
	// forward, and the operator's through the manager's, are both refused.
	mConn, err := r.dial(r.manager)
	if err != nil {
		t.Fatal(err)
	}
	defer mConn.Close()
	mv, mSess := startView(t, mConn, rangeCmd+" --reason 'complaint check'")
	defer mSess.Close()
	if code, _ := fetch(t, opHTTP, "http://127.0.0.1/v/"+mv.Token+"/recording.mp4"); code != http.StatusForbidden {
		t.Fatalf("manager's token via operator's forward: %d", code)
	}
	if code, _ := fetch(t, httpVia(mConn, r.pb.Addr()), v.URL); code != http.StatusForbidden {
		t.Fatalf("operator's token via manager's forward: %d", code)
	}
	if code, _ := fetch(t, opHTTP, "http://127.0.0.1/v/"+strings.Repeat("A", 43)+"/recording.mp4"); code != http.StatusForbidden {
		t.Fatalf("made-up token: %d", code)
	}

	// Live view on a second session of the same connection; then that
	// session logs out and its token dies with it.
	lv, liveSess := startView(t, opConn, "view cam1 --live --json")
	if !lv.Live || !strings.HasSuffix(lv.URL, "/live.mp4") {
		t.Fatalf("live answer %+v", lv)
	}
	resp, err := opHTTP.Get(lv.URL)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET live: %v %v", resp, err)
	}
	liveBytes := make([]byte, 200_000)
	if _, err := io.ReadFull(resp.Body, liveBytes); err != nil {
		t.Fatalf("live stream: %v", err)
	}
	resp.Body.Close()
	linit, lfr := splitMP4(t, liveBytes)
	if err := in.Unmarshal(bytes.NewReader(linit)); err != nil {
		t.Fatalf("live init: %v", err)
	}
	if len(lfr) < 1000 {
		t.Fatalf("live: only %d fragment bytes", len(lfr))
	}
	liveSess.Close() // logout of that session; the connection stays
	waitFor(t, "live token to die with its session", func() bool {
		code, _ := fetch(t, opHTTP, lv.URL)
		return code == http.StatusForbidden
	})
	if code, _ := fetch(t, opHTTP, v.URL); code != http.StatusOK {
		t.Fatalf("the other session's token must still work: %d", code)
	}

	// Expiry: past the maximum lifetime the token is refused, and the
	// waiting command ends.
	r.clk.Add(time.Hour + time.Minute)
	if code, _ := fetch(t, opHTTP, v.URL); code != http.StatusForbidden {
		t.Fatalf("expired token: %d", code)
	}
	waitDone := make(chan error, 1)
	go func() { waitDone <- opSess.Wait() }()
	select {
	case <-waitDone:
	case <-time.After(10 * time.Second):
		t.Fatal("view command did not end when its token expired")
	}

	// Every viewing is in the ledger with the bytes served.
	var ended []core.Entry
	waitFor(t, "viewings in the ledger", func() bool {
		ended = viewEntries(r.entries(), "ended")
		return len(ended) >= 2
	})
	var opRange, opLive bool
	for _, e := range ended {
		if e.Actor.Fingerprint != r.oper.actor.Fingerprint {
			continue
		}
		switch e.Details["live"] {
		case "false":
			// Two full GETs (one after the live session ended), one range.
			wantBytes := itoa(2*len(body) + len(part))
			if e.Details["bytes"] != wantBytes || e.Details["session"] == "" || e.Details["from"] == "" ||
				e.Details["request"] != req.ID {
				t.Fatalf("range viewing %+v, want %s bytes", e.Details, wantBytes)
			}
			opRange = true
		case "true":
			if n := atoi(e.Details["bytes"]); n < len(liveBytes) {
				t.Fatalf("live viewing %+v, want at least %d bytes", e.Details, len(liveBytes))
			}
			opLive = true
		}
	}
	if !opRange || !opLive {
		t.Fatalf("operator's viewings missing: %+v", ended)
	}
	if len(viewEntries(r.entries(), "authorized")) < 3 {
		t.Fatal("authorizations not ledgered")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
