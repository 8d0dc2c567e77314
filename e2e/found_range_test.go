package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"mimamori/recorder/export"
)

// TestFoundRangeExport is 000 §9-2 and §9-4 end to end over SSH against
// real recorded footage: a ten-minute request on two cameras, the operator
// finds footage on one camera for a short stretch (seconds here; the
// manual run in the compliance report does two minutes), the manager
// approves with the 不当侵害 judgement, and the export holds exactly that
// stretch of that camera — no other camera, no other minute — and form 3
// shows it.
func TestFoundRangeExport(t *testing.T) {
	r := startRig(t)
	if !r.hasExporter() {
		t.Skip("the export engine is not built in")
	}
	covFrom, covTo := r.waitRecorded(6 * time.Second)
	found0 := covFrom.Add(1500 * time.Millisecond).Truncate(time.Second).Add(time.Second)
	found1 := found0.Add(3 * time.Second)
	if !found1.Before(covTo) {
		t.Fatalf("covered %v..%v is too short", covFrom, covTo)
	}
	reqFrom, reqTo := found0.Add(-5*time.Minute), found0.Add(5*time.Minute) // ten minutes asked for

	id := strings.TrimSpace(r.must(r.operator, registerCmd(reqFrom, reqTo)))
	r.must(r.manager, "request instruct "+id+" --operator '担当 太郎'")
	found := "cam1=" + rfc(found0) + "/" + rfc(found1)
	r.must(r.operator, "request result "+id+" --found yes --range "+found+" --note '北口で人物を確認'")
	// The manager cannot approve more than was found.
	res := r.ssh(r.manager, "request approve "+id+" "+judgement+" --range cam2="+rfc(found0)+"/"+rfc(found1))
	if res.code == 0 || !strings.Contains(res.stderr, "outside what the search found") {
		t.Fatalf("approving a camera where nothing was found: exit %d %q", res.code, res.stderr)
	}
	var approved struct {
		PackageSecret string `json:"package_secret"`
	}
	r.mustJSON(r.manager, "request approve "+id+" "+judgement+" --json", &approved)
	r.must(r.manager, "export-passphrase set", exportPass+"\n")

	var req requestJSON
	r.mustJSON(r.operator, "request show "+id+" --json", &req)
	if req.Result == nil || len(req.Result.Found) != 1 || req.Result.Found[0].Camera != "cam1" ||
		req.Decision == nil || len(req.Decision.Ranges) != 1 || req.Decision.Ranges[0].From != rfc(found0) ||
		req.Decision.Ranges[0].To != rfc(found1) || req.Decision.Judgement == "" {
		t.Fatalf("request after approval: result %+v decision %+v", req.Result, req.Decision)
	}

	res = r.ssh(r.operator, "request export "+id, exportPass+"\n")
	if res.code != 0 {
		t.Fatalf("request export: exit %d\n%s", res.code, res.stderr)
	}
	pkg := strings.TrimSpace(res.stdout)
	ident, err := age.ParseX25519Identity(approved.PackageSecret)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(pkg)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	rep, err := export.Verify(f, export.Options{Identities: []age.Identity{ident}, Key: r.hostFP, ExtractDir: out})
	f.Close()
	if err != nil || !rep.Intact || !rep.Authentic {
		t.Fatalf("verify: %v %+v", err, rep)
	}
	m := rep.Manifest
	if len(m.Cameras) != 1 || m.Cameras[0].Camera != "cam1" || !m.Cameras[0].ApprovedFrom.Equal(found0) ||
		!m.Cameras[0].ApprovedTo.Equal(found1) || len(m.Cameras[0].Actual) != 1 {
		t.Fatalf("manifest cameras %+v, want exactly cam1 %v..%v", m.Cameras, found0, found1)
	}
	if len(m.Files) != 1 || m.Files[0].Camera != "cam1" {
		t.Fatalf("package files %+v, want cam1 only", m.Files)
	}
	a := m.Cameras[0].Actual[0]
	r.checkMP4("cam1", filepath.Join(out, a.File), found0, found1, a.From, a.To)
	if d := a.To.Sub(a.From); d > found1.Sub(found0) || a.From.Before(found0) || a.To.After(found1) {
		t.Errorf("exported %v for a found %v", d, found1.Sub(found0))
	}
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "cam2") {
			t.Errorf("the package holds %s", e.Name())
		}
	}

	// Form 3 names what was found and what was approved.
	loc, _ := time.LoadLocation("Asia/Tokyo")
	f3 := r.must(r.operator, "form 3 "+id)
	line := `<span class="nw">カメラ1（cam1）</span>　<span class="range">` + jaSec(found0, loc) + "から" + jaSec(found1, loc) + "まで</span>"
	if strings.Count(f3, line) != 2 || !strings.Contains(f3, "複写を承認した範囲") || strings.Contains(f3, `<span class="nw">カメラ2（cam2）</span>`) {
		t.Errorf("form 3 does not show the found and approved range %q", line)
	}
	// The ledger's approval names the range.
	for _, e := range find(r.ledger(), "request.approve", id) {
		if !strings.Contains(e.Details["ranges"], "cam1 ") || strings.Contains(e.Details["ranges"], "cam2") || e.Details["judgement"] == "" {
			t.Errorf("approve entry %+v", e.Details)
		}
	}
}

// jaSec is forms' "2026年1月2日 9時05分30秒".
func jaSec(t time.Time, loc *time.Location) string {
	t = t.In(loc)
	return fmt.Sprintf("%d年%d月%d日 %d時%02d分%02d秒", t.Year(), int(t.Month()), t.Day(), t.Hour(), t.Minute(), t.Second())
}

// TestCameraRemovalStopsRecording: the manager removes a camera over SSH
// (001 §8-2); its recording stops (no fragment after the removal), the
// other camera records on, its footage stays, and the register and the
// ledger show the removal.
func TestCameraRemovalStopsRecording(t *testing.T) {
	r := startRig(t)
	r.waitRecorded(2 * time.Second)
	r.must(r.manager, "camera remove cam2 --reason '設置箇所の閉鎖により運用終了'")
	removedAt := time.Now()

	lastEnd := func(cam string) time.Time {
		var rec recordingsJSON
		r.mustJSON(r.operator, fmt.Sprintf("recordings %s --from %s --to %s --json", cam,
			rfc(r.started.Add(-time.Minute)), rfc(time.Now().Add(time.Minute))), &rec)
		if len(rec.Spans) == 0 {
			return time.Time{}
		}
		e, _ := time.Parse(time.RFC3339Nano, rec.Spans[len(rec.Spans)-1].End)
		return e
	}
	// The ring indexes what was written at each sync (200 ms here): wait
	// until cam1 has clearly moved on, then look at cam2.
	cam1Before := lastEnd("cam1")
	deadline := time.Now().Add(20 * time.Second)
	for lastEnd("cam1").Sub(cam1Before) < 3*time.Second {
		if time.Now().After(deadline) {
			t.Fatal("cam1 stopped recording too")
		}
		time.Sleep(200 * time.Millisecond)
	}
	end2 := lastEnd("cam2")
	if end2.IsZero() {
		t.Fatal("cam2's footage is gone: removal must keep it until retention")
	}
	if end2.After(removedAt.Add(500 * time.Millisecond)) {
		t.Errorf("cam2 recorded until %v, after its removal at %v", end2, removedAt)
	}
	if again := lastEnd("cam2"); !again.Equal(end2) {
		t.Errorf("cam2 still growing: %v then %v", end2, again)
	}

	var cams []struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	r.mustJSON(r.manager, "cameras --json", &cams)
	for _, c := range cams {
		want := "active"
		if c.ID == "cam2" {
			want = "removed"
		}
		if c.Status != want {
			t.Errorf("register: %s is %s, want %s", c.ID, c.Status, want)
		}
	}
	es := find(r.ledger(), "camera.remove", "cam2")
	if len(es) != 1 || es[0].Actor.Name != r.manager.name || es[0].Details["reason"] != "設置箇所の閉鎖により運用終了" {
		t.Errorf("ledger camera.remove entries %+v", es)
	}
	var h struct {
		Cameras []struct {
			Camera string `json:"camera"`
			State  string `json:"state"`
		} `json:"cameras"`
	}
	out := r.must(r.technician, "health --json")
	if err := json.Unmarshal([]byte(out), &h); err != nil {
		t.Fatal(err)
	}
	for _, c := range h.Cameras {
		if c.Camera == "cam2" && c.State != "stopped" {
			t.Errorf("health: cam2 is %s, want stopped", c.State)
		}
	}
}
