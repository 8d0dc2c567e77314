package sshd

import (
	"encoding/json"
	"strings"
	"testing"

	"mimamori/core"
)

func TestMaintenanceOverSSH(t *testing.T) {
	f := newFixture(t, nil)
	f.addCameras("cam1")
	insp := strings.TrimSpace(f.mustRun(f.tech, `maintenance add --kind inspection --camera cam1 --performer "保守業者 高橋" `+
		dated(`--date DAY0T10:00:00+09:00 --notes "レンズ清掃"`)))
	if !strings.HasPrefix(insp, "M") {
		t.Fatalf("maintenance add printed %q", insp)
	}
	// Technicians record maintenance but never a disposal (manager only).
	disp := `maintenance add --kind disposal --media "HDD SN:WX1234" --method "物理破壊" --performer "廃棄業者"`
	if _, errOut, code := f.run(f.tech, disp); code != ExitError || !strings.Contains(errOut, "forbidden: technician may not disposal.record") {
		t.Errorf("technician disposal: exit %d stderr %q", code, errOut)
	}
	var d maintenanceJSON
	if err := json.Unmarshal([]byte(f.mustRun(f.manager, disp+" --json")), &d); err != nil {
		t.Fatal(err)
	}
	if d.Kind != "disposal" || d.Media != "HDD SN:WX1234" || d.Method != "物理破壊" || d.CreatedBy != "kanri" {
		t.Errorf("disposal --json = %+v", d)
	}
	if _, errOut, code := f.run(f.oper, "maintenance add --kind inspection --performer x"); code != ExitError || !strings.Contains(errOut, "forbidden") {
		t.Errorf("operator maintenance: exit %d stderr %q", code, errOut)
	}

	var ms []maintenanceJSON
	if err := json.Unmarshal([]byte(f.mustRun(f.tech, "maintenance list --json")), &ms); err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[1].ID != insp || ms[1].Camera != "cam1" || ms[1].Date != dated("DAY0T01:00:00Z") || ms[1].Notes != "レンズ清掃" {
		t.Errorf("list --json = %+v", ms)
	}
	if out := f.mustRun(f.manager, "--lang ja maintenance list"); !strings.Contains(out, "点検") || !strings.Contains(out, "記録媒体の廃棄") {
		t.Errorf("ja list = %q", out)
	}
	if _, errOut, code := f.run(f.oper, "maintenance list"); code != ExitError || !strings.Contains(errOut, "forbidden") {
		t.Errorf("operator list: exit %d stderr %q", code, errOut)
	}

	for _, c := range []struct {
		cmd  string
		code int
		want string
	}{
		{"maintenance add --kind camera-removal --performer x", ExitError, "camera (--camera)"},
		{"maintenance add --kind repaint --performer x", ExitError, "kind (--kind)"},
		{"maintenance add --kind inspection --camera nope --performer x", ExitError, "not found"},
		{"maintenance add --kind inspection", ExitUsage, "--performer"},
		{"maintenance add --kind disposal --performer x --media m", ExitUsage, "--method"},
		{"maintenance add --kind inspection --performer x --media m", ExitUsage, "--kind disposal"},
		{"maintenance add --kind inspection --performer x --date tomorrow", ExitUsage, "--date"},
	} {
		if _, errOut, code := f.run(f.manager, c.cmd); code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("%s: exit %d stderr %q, want %d and %q", c.cmd, code, errOut, c.code, c.want)
		}
	}
	if !hasEntry(f.entries(), func(e core.Entry) bool {
		return e.Action == core.ActionMaintenance && e.Subject == insp && e.Details["camera"] == "cam1" && e.Details["performer"] == "保守業者 高橋"
	}) {
		t.Error("inspection not in the ledger")
	}
}
