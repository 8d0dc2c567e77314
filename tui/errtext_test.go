package tui

import (
	"fmt"
	"strings"
	"testing"

	"mimamori/core"
)

// A refusal of an act the role may do in general (another operator's
// request under the city policy) says why in the status line.
func TestRefusalReasonShown(t *testing.T) {
	u := syncUI(t, newFake(1), core.RoleOperator, "en", 100, 30)
	err := fmt.Errorf("%w: role operator may not request.export: %w", core.ErrForbidden,
		&core.Refusal{Reason: "only the operator the search of R-1 was instructed to, or a manager, copies its footage"})
	if got := u.s.errText(err); !strings.Contains(got, "instructed to, or a manager") {
		t.Fatalf("errText = %q", got)
	}
	if got := u.s.errText(core.ErrForbidden); strings.Contains(got, ":") {
		t.Fatalf("plain forbidden: %q", got)
	}
}
