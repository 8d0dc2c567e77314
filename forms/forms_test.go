package forms

import (
	"bytes"
	"errors"
	"flag"
	"html"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mimamori/core"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.html")

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// sample is a request taken through the whole workflow.
func sample() Document {
	r := core.Request{
		ID: "R-2026-0001",
		RequestInput: core.RequestInput{
			ReceivedAt: ts("2026-01-05T10:00:00+09:00"), ApplicantAddress: "千葉県四街道市鹿渡無番地",
			Agency: "千葉県警察 四街道警察署", Representative: "署長 山田太郎", ContactPerson: "刑事課 佐藤花子",
			Phone: "043-000-0000", Purpose: "investigation", Ground: "law",
			Cameras: []string{"cam1", "cam2"}, From: ts("2026-01-01T09:00:00+09:00"), To: ts("2026-01-01T09:30:00+09:00"),
			Notes: "窃盗事件の捜査\n二行目", WrittenRef: "四署刑第12号",
		},
		State: core.StateProvided, AssignedOperator: "sousa",
		Result: &core.SearchResult{Outcome: "found", Note: "09:12 人物を確認", By: "sousa", At: ts("2026-01-05T14:00:00+09:00"),
			Found: []core.FoundRange{{Camera: "cam1", From: ts("2026-01-01T09:11:00+09:00"), To: ts("2026-01-01T09:13:00+09:00")}}},
		Decision: &core.Decision{Approved: true, By: "kanri", At: ts("2026-01-05T15:00:00+09:00"),
			Judgement: "被疑者の特定に必要な2分間に限られ、第三者の権利利益を不当に侵害するおそれはない"},
		Export: &core.ExportRecord{Path: "/exports/R-2026-0001", ManifestHash: strings.Repeat("ab", 32), By: "sousa",
			At:    ts("2026-01-05T16:00:00+09:00"),
			Files: []core.ExportFile{{Name: "cam1.mp4", Camera: "cam1"}, {Name: "cam2.mp4", Camera: "cam2"}}},
		Provision: &core.Provision{Recipient: "佐藤花子", Agency: "四街道警察署", IDDocType: "警察手帳",
			Date: ts("2026-01-06T10:00:00+09:00"), WrittenRef: "四署刑第12号", By: "kanri"},
		CreatedBy: "sousa", CreatedAt: ts("2026-01-05T10:05:00+09:00"),
		FormsIssued: map[string]time.Time{"3": ts("2026-01-05T14:30:00+09:00")},
		History: []core.Transition{
			{State: core.StateRegistered, By: "sousa", At: ts("2026-01-05T10:05:00+09:00")},
			{State: core.StateInstructed, By: "kanri", At: ts("2026-01-05T11:00:00+09:00"), JobTitle: "危機管理室長", Section: "危機管理室"},
			{State: core.StateSearched, By: "sousa", At: ts("2026-01-05T14:00:00+09:00"), Note: "09:12 人物を確認", JobTitle: "主事", Section: "危機管理室"},
			{State: core.StateApproved, By: "kanri", At: ts("2026-01-05T15:00:00+09:00")},
			{State: core.StateExported, By: "sousa", At: ts("2026-01-05T16:00:00+09:00")},
			{State: core.StateProvided, By: "kanri", At: ts("2026-01-06T10:00:00+09:00")},
		},
	}
	return Document{
		Request: r,
		Cameras: map[string]core.Camera{
			"cam1": {ID: "cam1", Number: "1", Name: "駅前", Location: "四街道駅北口 交差点", Direction: "北向き 歩道"},
			"cam2": {ID: "cam2", Number: "2", Name: "公園", Location: "中央公園 入口"},
		},
		Policy: core.CityStandard(), Printed: ts("2026-01-07T09:00:00+09:00"),
	}
}

func render(t *testing.T, n int, d Document) string {
	t.Helper()
	var b bytes.Buffer
	if err := Render(&b, n, d); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./forms -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file; if intended, go test ./forms -update\n--- got ---\n%s", name, got)
	}
}

func TestForm2HasEveryField(t *testing.T) {
	d := sample()
	out := render(t, 2, d)
	text := html.UnescapeString(out) // html/template writes "+" as &#43;
	for _, want := range []string{
		"様式第２号（第９条第１項）", "四街道市防犯カメラ画像データ利用申請書", "2026年1月5日", "四街道市長　様",
		"所在地", "千葉県四街道市鹿渡無番地", "機関名等", "千葉県警察 四街道警察署", "代表者名", "署長 山田太郎",
		"担当者名", "刑事課 佐藤花子", "電話番号", "043-000-0000",
		"■</span> 事後捜査のため", "□</span> 犯人検挙のため", "□</span> その他",
		"四街道駅北口 交差点", "中央公園 入口", "北向き 歩道", "1（cam1）", "2（cam2）",
		"2026年1月1日 9時00分頃から", "2026年1月1日 9時30分頃まで",
		"窃盗事件の捜査\n二行目", "法令等（条例を含む。）に基づく場合（第８条本文）", "四署刑第12号", "R-2026-0001", "@page { size: A4",
		"四街道市が設置する防犯カメラの画像データの利用について、次のとおり申請します。",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("form 2 lacks %q", want)
		}
	}
	if strings.Contains(strings.ToLower(out), "<script") {
		t.Error("form 2 contains a script")
	}
	golden(t, "form2.golden.html", out)
}

func TestForm3HasEveryField(t *testing.T) {
	out := render(t, 3, sample())
	for _, want := range []string{
		"様式第３号（第９条第４項）", "四街道市防犯カメラ画像データ検索簿", "2026年1月5日作成",
		"検索指示者", "kanri", "取扱担当者", "sousa", "検索指示年月日", "2026年1月5日",
		"<td class=\"k\">危機管理室長</td><td>kanri</td>", "<td class=\"k\">主事</td><td>sousa</td>",
		`<span class="nw">カメラ1（cam1）</span>　<span class="range">2026年1月1日 9時11分00秒から2026年1月1日 9時13分00秒まで</span>`,
		"本人又は第三者の権利利益を不当に侵害するおそれがないと認めた理由", "被疑者の特定に必要な2分間に限られ",
		"■</span> 事後捜査のため", "2026年1月1日 9時00分から", "2026年1月1日 9時30分まで",
		"四街道駅北口 交差点", "1（cam1）", "■</span> 対象画像データ【有】", "09:12 人物を確認", "□</span> 対象画像データ【無】",
		"千葉県警察 四街道警察署", "承認　kanri", "cam1.mp4、cam2.mp4", strings.Repeat("ab", 32),
		"警察手帳", "佐藤花子", "四署刑第12号", "2026年1月6日", "検索結果報告", "提供済", "kanri（危機管理室長）",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("form 3 lacks %q", want)
		}
	}
	golden(t, "form3.golden.html", out)
}

// Form 3's found and approved ranges are printed so that a line can
// break only between the camera and its range or between ranges, never
// inside a time ("…11時39分30 / 秒まで"): each range is one nowrap piece.
func TestForm3RangesBreakOnlyBetweenRanges(t *testing.T) {
	d := sample()
	var rs []core.FoundRange
	for i, c := range []string{"cam1", "cam2", "cam1"} {
		from := ts("2026-12-01T11:37:30+09:00").Add(time.Duration(i) * 10 * time.Minute)
		rs = append(rs, core.FoundRange{Camera: c, From: from, To: from.Add(2 * time.Minute)})
	}
	d.Request.Result.Found = rs
	out := render(t, 3, d)
	if !strings.Contains(out, ".nw, .range { white-space: nowrap; }") {
		t.Error("ranges are not styled unbreakable")
	}
	for _, g := range rs {
		want := `<span class="range">` + jaDateTimeSec(g.From, jst) + "から" + jaDateTimeSec(g.To, jst) + "まで</span>"
		// once where found, once under 複写を承認した範囲
		if n := strings.Count(out, want); n != 2 {
			t.Errorf("range %s printed as one piece %d times, want 2 (found, approved)", want, n)
		}
	}
	// No time is printed outside an unbreakable piece.
	plain := out
	for _, cut := range []string{`<span class="range">`, `<td class="nw">`} {
		for {
			i := strings.Index(plain, cut)
			if i < 0 {
				break
			}
			j := strings.Index(plain[i:], "</")
			plain = plain[:i] + plain[i+j:]
		}
	}
	if strings.Contains(plain, "11時") {
		t.Errorf("a range time is printed where a line may break inside it:\n%s", plain)
	}
}

func TestForm3Pending(t *testing.T) {
	d := sample()
	d.Request.State, d.Request.Result, d.Request.Decision, d.Request.Export, d.Request.Provision = core.StateRegistered, nil, nil, nil, nil
	d.Request.History = d.Request.History[:1]
	d.Request.AssignedOperator = ""
	d.Request.Purpose, d.Request.PurposeReason = "other", "行方不明者の捜索"
	d.Request.FormsIssued = nil
	out := render(t, 3, d)
	for _, want := range []string{"管理責任者の判断：<span class=\"multi\">未決", "2026年1月7日作成", "□</span> 対象画像データ【有】", "□</span> 対象画像データ【無】",
		"■</span> その他（理由　行方不明者の捜索　）", "年　　月　　日</td>"} {
		if !strings.Contains(out, want) {
			t.Errorf("pending form 3 lacks %q", want)
		}
	}
}

func TestFormsEscapeHostileInput(t *testing.T) {
	const evil = `<script>alert(1)</script><img src=x onerror="alert(2)">`
	d := sample()
	r := &d.Request
	r.Agency, r.ApplicantAddress, r.Representative, r.ContactPerson, r.Phone = evil, evil, evil, evil, evil
	r.Notes, r.WrittenRef, r.GroundNote, r.ID = evil, evil, evil, evil
	r.Result.Note, r.Provision.Recipient, r.History[0].Note = evil, evil, evil
	cam := d.Cameras["cam1"]
	cam.Location, cam.Name = evil, evil
	d.Cameras["cam1"] = cam
	d.Policy.Organization.Name = evil
	for _, n := range []int{2, 3} {
		out := render(t, n, d)
		low := strings.ToLower(out)
		if strings.Contains(low, "<script") || strings.Contains(low, "<img") {
			t.Errorf("form %d lets markup through", n)
		}
		if !strings.Contains(out, html.EscapeString("<script>alert(1)</script>")) &&
			!strings.Contains(out, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("form %d does not show the escaped text", n)
		}
	}
}

func TestRenderUnknownForm(t *testing.T) {
	err := Render(&bytes.Buffer{}, 4, sample())
	if !errors.Is(err, core.ErrInvalid) {
		t.Fatalf("Render(4) = %v, want ErrInvalid", err)
	}
}

func TestTimesInZone(t *testing.T) {
	d := sample()
	d.Location = time.UTC
	out := render(t, 2, d)
	if !strings.Contains(out, "2026年1月1日 0時00分頃から") {
		t.Error("form 2 ignores Document.Location")
	}
}

// Under the company template the forms cite 001, name the configured
// company and call the operator 操作担当者 (001 §3); the city's article
// numbers and 取扱担当者 appear nowhere.
func TestCompanyFormsCite001(t *testing.T) {
	d := sample()
	d.Policy = core.CompanyTemplate()
	d.Policy.Organization.Name = "見守り商事株式会社"
	d.Request.Ground = "investigation"
	f2, f3 := html.UnescapeString(render(t, 2, d)), html.UnescapeString(render(t, 3, d))
	for _, want := range []string{"提供要請書（管理運用規定 ６ ウ）", "防犯カメラ画像提供要請書", "見守り商事株式会社　管理責任者　様",
		"見守り商事株式会社が設置する防犯カメラの画像の提供について、次のとおり要請します。",
		"捜査機関から犯罪や事故の捜査の目的で提供の要請を受けた場合（６(2)）", "犯罪や事故の捜査のため"} {
		if !strings.Contains(f2, want) {
			t.Errorf("company form 2 lacks %q", want)
		}
	}
	for _, want := range []string{"検索・提供記録簿（管理運用規定 ５(2)・６ イ）", "防犯カメラ画像検索・提供記録簿", "操作担当者",
		"設置・運用目的に照らして提供が必要と判断した理由"} {
		if !strings.Contains(f3, want) {
			t.Errorf("company form 3 lacks %q", want)
		}
	}
	for _, f := range []string{f2, f3} {
		for _, not := range []string{"様式第", "第９条", "取扱担当者", "四街道市防犯", "四街道市長", "四街道市が"} {
			if strings.Contains(f, not) {
				t.Errorf("company form says %q", not)
			}
		}
	}
	// The city's forms, for contrast, cite 000 and say 取扱担当者.
	c3 := render(t, 3, sample())
	if !strings.Contains(c3, "様式第３号（第９条第４項）") || !strings.Contains(c3, "取扱担当者") || strings.Contains(c3, "操作担当者") {
		t.Error("city form 3 does not cite 000 or does not say 取扱担当者")
	}
}

// Official forms are Japanese only: the English the console shows stays
// out of them (issue 12: "English subtitles are printed on the official form").
func TestFormsJapaneseOnly(t *testing.T) {
	for _, n := range []int{2, 3} {
		out := render(t, n, sample())
		body := out[strings.Index(out, "<body>"):]
		for _, en := range []string{"purpose", "camera", "legal ground", "approved", "searched", "provided", "request",
			"notes", "footage", "generated", "operator", "manager", "pending", "registered"} {
			if strings.Contains(strings.ToLower(stripTags(body)), en) {
				t.Errorf("form %d prints the English %q", n, en)
			}
		}
	}
}

// stripTags drops markup (class names are English) and keeps the text.
func stripTags(s string) string {
	var b strings.Builder
	in := false
	for _, r := range s {
		switch {
		case r == '<':
			in = true
		case r == '>':
			in = false
		case !in:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Form 3's 作成日 is the day it was first issued, not the day of a reprint.
func TestForm3KeepsIssueDate(t *testing.T) {
	d := sample()
	d.Printed = ts("2027-03-01T09:00:00+09:00")
	out := render(t, 3, d)
	if !strings.Contains(out, "2026年1月5日作成") || strings.Contains(out, "2027年3月1日作成") {
		t.Error("form 3's 作成日 follows the reprint date")
	}
}

// Form 1 is the sign of 様式第１号: 防犯カメラ作動中 and the issuer, on a
// 10 cm × 30 cm page per camera.
func TestForm1Sign(t *testing.T) {
	var b bytes.Buffer
	p := core.CityStandard()
	err := Form1(&b, SignDocument{Policy: p, Cameras: []core.Camera{
		{ID: "cam1", Number: "1", Location: "四街道駅北口"}, {ID: "cam2", Number: "2", Location: "中央公園"}}})
	if err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"様式第１号（第４条第３項）", "防犯カメラ作動中", "設置者", "四街道市", "size: 100mm 300mm",
		"カメラ1（cam1）四街道駅北口", "カメラ2（cam2）中央公園"} {
		if !strings.Contains(out, want) {
			t.Errorf("form 1 lacks %q", want)
		}
	}
	if n := strings.Count(out, `<div class="sign">`); n != 2 {
		t.Errorf("%d signs, want one per camera", n)
	}
	c := core.CompanyTemplate()
	c.Organization.Name = "見守り商事株式会社"
	b.Reset()
	if err := Form1(&b, SignDocument{Policy: c, Cameras: []core.Camera{{ID: "cam1"}}}); err != nil {
		t.Fatal(err)
	}
	if out := b.String(); !strings.Contains(out, "見守り商事株式会社") || !strings.Contains(out, "管理運用規定 ２(2)") || strings.Contains(out, "様式第") {
		t.Error("company sign does not name the company or cite 001 §2(2)")
	}
	golden(t, "form1.golden.html", out)
	if err := Form1(&b, SignDocument{Policy: p}); !errors.Is(err, core.ErrInvalid) {
		t.Errorf("form 1 without cameras: %v", err)
	}
}

// The handover receipt names who handed the footage over with their 職名
// and 所属, as their key carried them at the time.
func TestReceiptNamesJobTitle(t *testing.T) {
	d := sample()
	d.Request.History[5].JobTitle, d.Request.History[5].Section = "危機管理室長", "危機管理室"
	var b bytes.Buffer
	if err := RenderReceipt(&b, Receipt{Request: d.Request, ApplianceKey: "SHA256:x", Issuer: "四街道市"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "kanri（危機管理室長・危機管理室）") {
		t.Errorf("receipt does not name the manager's 職名 and 所属")
	}
}

// Every form passes core's one sanitiser: a bidi override or an escape
// stored by an older release is made visible, not printed raw.
func TestFormsPassTheSanitiser(t *testing.T) {
	d := sample()
	d.Request.Notes = "正常\u202e逆順\x1b[31m"
	for _, n := range []int{2, 3} {
		out := render(t, n, d)
		if strings.ContainsRune(out, '\u202e') || strings.ContainsRune(out, '\x1b') {
			t.Errorf("form %d prints a bidi override or an escape raw", n)
		}
	}
	var b bytes.Buffer
	if err := Form1(&b, SignDocument{Policy: core.CityStandard(), Cameras: []core.Camera{{ID: "cam1", Location: "北口\u202e"}}}); err != nil {
		t.Fatal(err)
	}
	if strings.ContainsRune(b.String(), '\u202e') {
		t.Error("form 1 prints a bidi override raw")
	}
}

// The receipt's verify line carries both things the recipient checks
// against it: the appliance key and the package file's SHA-256, so the
// check binds the very file handed over (not only its content).
func TestReceiptVerifyLineNamesThePackage(t *testing.T) {
	d := sample()
	sum := strings.Repeat("3f", 32)
	d.Request.Export.PackageSHA256 = sum
	var b bytes.Buffer
	if err := RenderReceipt(&b, Receipt{Request: d.Request, ApplianceKey: "SHA256:x", Issuer: "四街道市"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "--key SHA256:x --package-sha256 "+sum) {
		t.Errorf("the receipt's verify line lacks --package-sha256 %s", sum)
	}
}
