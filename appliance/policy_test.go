package appliance

import (
	"strings"
	"testing"

	"mimamori/config"
)

// config "organization" names the issuer of the forms and the sign, and
// policy_overrides set the inspection schedule and the company's number
// of managers; the city standard keeps exactly one manager (000 §5-2).
func TestPolicyCarriesOrganization(t *testing.T) {
	c, err := config.Parse([]byte("policy: company\norganization:\n  name: 見守り商事株式会社\n  section: 総務部\n"+
		"policy_overrides:\n  max_managers: 2\n  inspection_interval_days: 90\n"), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p, err := PolicyFor(c)
	if err != nil {
		t.Fatal(err)
	}
	if p.Issuer() != "見守り商事株式会社" || p.Organization.Section != "総務部" || p.MaxManagers != 2 ||
		p.InspectionIntervalDays != 90 || p.RoleTerm(3) == "" {
		t.Fatalf("company policy %+v", p.Organization)
	}
	if got := p.FormTitle(p.Forms.Application); got != "防犯カメラ画像提供要請書" || !strings.Contains(p.Addressee(), "見守り商事株式会社") {
		t.Errorf("company form 2: %q to %q", got, p.Addressee())
	}
	c, err = config.Parse([]byte("organization: 千葉市\n"), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if p, _ = PolicyFor(c); p.FormTitle(p.Forms.SearchBook) != "千葉市防犯カメラ画像データ検索簿" || p.Addressee() != "千葉市長" {
		t.Errorf("city forms name %q / %q", p.FormTitle(p.Forms.SearchBook), p.Addressee())
	}
	c, err = config.Parse([]byte("policy: city\npolicy_overrides:\n  max_managers: 2\n"), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := PolicyFor(c); err == nil || !strings.Contains(err.Error(), "000 §5-2") {
		t.Errorf("two managers under the city standard: %v", err)
	}
	if _, err := config.Parse([]byte("organization:\n  name: \"a\\x01b\"\n"), t.TempDir()); err == nil {
		t.Error("a control character in the organization was accepted")
	}
}
