package tui

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"mimamori/core"
)

// searched registers a request on cam1, has it searched and found on
// two minutes of it: ready for the manager's decision.
func (rc *realCore) searched() core.Request {
	rc.t.Helper()
	op := rc.enrol("佐藤 花子", core.RoleOperator, true)
	now := rc.now()
	r, err := rc.st.RegisterRequest(rc.manager, core.RequestInput{ApplicantAddress: "千葉県四街道市鹿渡無番地",
		Agency: "四街道警察署", Representative: "署長 高橋", ContactPerson: "刑事課 鈴木", Phone: "043-000-0000",
		Purpose: "investigation", Ground: "law", Cameras: []string{"cam1"}, From: now.Add(-2 * time.Hour),
		To: now.Add(-time.Hour), WrittenRef: "四署刑第12号"})
	if err != nil {
		rc.t.Fatal(err)
	}
	if _, err := rc.st.InstructSearch(rc.manager, r.ID, op.Fingerprint); err != nil {
		rc.t.Fatal(err)
	}
	from := r.From.Add(10 * time.Minute)
	r, err = rc.st.RecordResult(op, r.ID, "found", "人物を確認", core.FoundRange{Camera: "cam1", From: from, To: from.Add(2 * time.Minute)})
	if err != nil {
		rc.t.Fatal(err)
	}
	return r
}

func (rc *realCore) request(id string) core.Request {
	rc.t.Helper()
	r, err := rc.st.Request(rc.manager, id)
	if err != nil {
		rc.t.Fatal(err)
	}
	return r
}

var secretRE = regexp.MustCompile(`AGE-SECRET-KEY-1[0-9A-Z]{20,}`)

// At approval the package secret is shown once: whole for copying, in
// groups for writing by hand, with the verify command naming the
// appliance key. The screen closes when the manager types its last group
// back (or closes it knowingly); the secret is the private half of what
// core stored, and is nowhere in the ledger.
func TestApprovalShowsTheSecretOnce(t *testing.T) {
	rc := newRealCore(t, core.CityStandard())
	r := rc.searched()
	u := rc.console(rc.manager, "en", 100, 34, func(c *Common) { c.ApplianceKey = "SHA256:hostKEYfingerprint" })
	keys(u, "4")
	cursorTo(t, u, r.ID)
	keys(u, "a")
	shows(t, u, "Package key        new secret, shown on screen once")
	keys(u, "no undue infringement: two minutes of one camera", "ctrl+s")

	v := u.View()
	secret := secretRE.FindString(v)
	if secret == "" {
		t.Fatalf("no secret on screen:\n%s", v)
	}
	shows(t, u, "Package secret of "+r.ID, "To copy by hand: AGE-SECRET-KEY-1", "  "+secret[16:22]+" "+secret[22:28]+" ",
		"mimamori verify PACKAGE --identity key.txt --key SHA256:hostKEYfingerprint",
		"Type its last group (", "C-p: print a key sheet instead")

	got := rc.request(r.ID)
	if got.State != core.StateApproved || got.Protection == nil || got.Protection.Method != core.ProtectApprovalSecret {
		t.Fatalf("request %s protection %+v", got.State, got.Protection)
	}
	id, err := age.ParseX25519Identity(secret)
	if err != nil || id.Recipient().String() != got.Protection.Recipient {
		t.Fatalf("the secret shown is not the private half of %s (%v)", got.Protection.Recipient, err)
	}

	// A wrong group keeps the screen; the right one closes it.
	body := secret[16:]
	last := body[(len(body)-1)/secretGroup*secretGroup:]
	keys(u, "zzz", "enter")
	shows(t, u, "that is not the last group", secret)
	keys(u, strings.ToLower(last), "enter")
	if strings.Contains(u.View(), secret) {
		t.Fatalf("the secret stays on screen after it was confirmed:\n%s", u.View())
	}
	shows(t, u, "The package secret of "+r.ID+" is in your hands")

	if n := len(rc.entries(core.ActionRequestProtect)); n != 1 {
		t.Fatalf("%d request.protect entries", n)
	}
	es, _ := rc.st.Ledger(rc.manager, 0, 10000)
	for _, e := range es {
		for k, v := range e.Details {
			if strings.Contains(v, body[:20]) {
				t.Fatalf("the secret is in ledger entry %d (%s %s)", e.Seq, e.Action, k)
			}
		}
	}
}

// The manager may rather print a key sheet: the approval then sets no
// key, the console shows the command that prints the sheet on the
// manager's own computer, and the export waits. K later chooses a key
// from the console; leaving a secret unconfirmed asks first.
func TestApprovalWithAKeySheet(t *testing.T) {
	rc := newRealCore(t, core.CityStandard())
	r := rc.searched()
	u := rc.console(rc.manager, "ja", 100, 34, func(c *Common) {
		c.Command = func(remote string) string { return "ssh -p 2222 kanri@192.0.2.1 " + remote }
	})
	keys(u, "4")
	cursorTo(t, u, r.ID)
	keys(u, "a", "不当侵害のおそれなし", "tab", "tab", "right")
	shows(t, u, "< 新しい鍵を自分の端末で鍵シートに印刷 >")
	keys(u, "ctrl+s")
	shows(t, u, r.ID+" の鍵シート", "パッケージ鍵はまだありません",
		"ssh -p 2222 kanri@192.0.2.1 request protect "+r.ID+" --sheet > "+r.ID+"-key.html", "ブラウザで開いて印刷")
	if secretRE.MatchString(u.View()) {
		t.Fatal("a secret shown though the sheet was chosen")
	}
	got := rc.request(r.ID)
	if got.State != core.StateApproved || got.Protection != nil {
		t.Fatalf("request %s protection %+v", got.State, got.Protection)
	}
	if n := len(rc.entries(core.ActionRequestProtect)); n != 0 {
		t.Fatalf("%d request.protect entries before the sheet was printed", n)
	}
	keys(u, "enter")
	keys(u, "enter")
	shows(t, u, "次の手続: パッケージ鍵の設定 (管理責任者)", "[K] パッケージ鍵")
	keys(u, "G")
	shows(t, u, "未設定: 管理責任者が K で設定するか鍵シートを印刷します", "印刷（ご自分の端末で実行",
		"ssh -p 2222 kanri@192.0.2.1 form 3 "+r.ID+" > "+r.ID+"-form3.html")
	// An operator with an export directory is not offered the export yet.
	op := rc.enrol("鈴木 一郎", core.RoleOperator, true)
	ou := rc.console(op, "en", 100, 34, func(c *Common) { c.ExportDir = t.TempDir() })
	for _, b := range reqPage(ou).actions(rc.request(r.ID)) {
		if b.Keys()[0] == ou.s.keys.Export.Keys()[0] {
			t.Fatal("export offered before the package has a key")
		}
	}
	keys(u, "esc")

	// K on the approved request: a secret after all, then C-p for the
	// sheet (which would replace it), then closing without confirming.
	cursorTo(t, u, r.ID)
	keys(u, "K")
	shows(t, u, r.ID+" のパッケージ鍵", "新しい鍵に置き換わります")
	keys(u, "ctrl+s")
	secret := secretRE.FindString(u.View())
	if secret == "" {
		t.Fatalf("no secret after K:\n%s", u.View())
	}
	keys(u, "ctrl+p")
	shows(t, u, "鍵シートには新しい鍵が印刷されます", "request protect "+r.ID+" --sheet")
	keys(u, "n", "esc")
	shows(t, u, "確認せずに閉じますか?", secret)
	keys(u, "y")
	if strings.Contains(u.View(), secret) {
		t.Fatal("the secret stays after closing")
	}
	if got := rc.request(r.ID); got.Protection == nil || got.Protection.Method != core.ProtectApprovalSecret {
		t.Fatalf("protection after K: %+v", got.Protection)
	}
	if n := len(rc.entries(core.ActionRequestProtect)); n != 1 {
		t.Fatalf("%d request.protect entries", n)
	}
}

// With the recipient's public key the package needs no secret: a key
// that does not parse is refused next to its field before anything is
// approved; a good one is stored and no secret is shown.
func TestApprovalToTheRecipientsKey(t *testing.T) {
	rc := newRealCore(t, core.CityStandard())
	r := rc.searched()
	u := rc.console(rc.manager, "en", 100, 34, nil)
	keys(u, "4")
	cursorTo(t, u, r.ID)
	keys(u, "a", "no undue infringement", "tab", "tab", "right", "right", "tab", "age1notakey", "ctrl+s")
	var marked bool
	for _, l := range strings.Split(u.View(), "\n") {
		marked = marked || (strings.Contains(l, "Recipient's key") && strings.Contains(l, "! "))
	}
	if !marked {
		t.Errorf("the bad key is not marked at its field:\n%s", u.View())
	}
	if got := rc.request(r.ID); got.State != core.StateSearched {
		t.Fatalf("approved with a key that does not parse: %s", got.State)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	typeText(u, id.Recipient().String())
	keys(u, "ctrl+s")
	shows(t, u, "Approved "+r.ID+".")
	if secretRE.MatchString(u.View()) {
		t.Fatal("a secret shown for a recipient's key")
	}
	got := rc.request(r.ID)
	if got.State != core.StateApproved || got.Protection == nil || got.Protection.Method != core.ProtectRecipientKey ||
		got.Protection.Recipient != id.Recipient().String() {
		t.Fatalf("request %s protection %+v", got.State, got.Protection)
	}
}
