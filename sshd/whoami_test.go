package sshd

import (
	"strings"
	"testing"

	"mimamori/core"
)

// whoami names the role in the regulation's own word: 取扱担当者 under
// the city standard (000), 操作担当者 under the company template (001).
func TestWhoamiNamesTheProfilesRole(t *testing.T) {
	for _, c := range []struct {
		p         core.Policy
		want, not string
	}{
		{core.CityStandard(), "operator (取扱担当者)", "操作担当者"},
		{core.CompanyTemplate(), "operator (操作担当者)", "取扱担当者"},
	} {
		f := newPolicyFixture(t, c.p, nil)
		out := f.mustRun(f.oper, "whoami --lang ja")
		if !strings.Contains(out, c.want) || strings.Contains(out, c.not) {
			t.Errorf("%s: whoami says %q, want %q", c.p.Name, out, c.want)
		}
	}
}
