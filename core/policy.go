package core

import (
	"fmt"
	"strings"
	"time"
)

// Policy is a regulation expressed as configuration ("policy profile").
type Policy struct {
	Name                 string
	RetentionDays        float64 // footage older than this is erased even if space remains
	Overwrite            bool    // oldest footage is overwritten when the ring is full
	ExtensionNeedsReason bool    // a hold must carry a reason
	MaxExtensionDays     int     // how far ahead a hold may end; 0 = no limit
	LiveViewAllowed      bool
	ViewerGrantsAllowed  bool          // temporary viewers with the manager's consent (001 §4)
	ProvisionalHoldGrace time.Duration // how long a provisional hold outlives a denied/closed request
	ProvisionalHoldDays  int           // how long a request's provisional hold lasts at most
	HoldShare            float64       // share of ring capacity holds may use (0..1)
	// OperatorViewsOnInstruction: operators view recorded footage only for
	// a request whose search the manager instructed to them (000 §9-2).
	OperatorViewsOnInstruction bool
}

// CityStandard follows seed 000 (Yotsukaido city standard): about one week,
// erased by overwriting, no viewers besides manager and operators.
func CityStandard() Policy {
	return Policy{
		Name:                 "city-standard",
		RetentionDays:        7,
		Overwrite:            true,
		ExtensionNeedsReason: true,
		MaxExtensionDays:     90,
		LiveViewAllowed:      true,
		ViewerGrantsAllowed:  false,
		ProvisionalHoldGrace: 24 * time.Hour,
		ProvisionalHoldDays:  60,
		HoldShare:            0.25,

		OperatorViewsOnInstruction: true,
	}
}

// CompanyTemplate follows seed 001 (company community cameras): one month,
// extension only with a recorded reason, temporary viewers with consent.
func CompanyTemplate() Policy {
	return Policy{
		Name:                 "company-template",
		RetentionDays:        30,
		Overwrite:            true,
		ExtensionNeedsReason: true,
		MaxExtensionDays:     180,
		LiveViewAllowed:      true,
		ViewerGrantsAllowed:  true,
		ProvisionalHoldGrace: 24 * time.Hour,
		ProvisionalHoldDays:  90,
		HoldShare:            0.25,
	}
}

// PolicyByName returns a built-in profile: "city-standard" (alias "000",
// "city") or "company-template" (alias "001", "company").
func PolicyByName(name string) (Policy, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "city-standard", "city", "000", "":
		return CityStandard(), nil
	case "company-template", "company", "001":
		return CompanyTemplate(), nil
	}
	return Policy{}, Invalid("policy", fmt.Sprintf("unknown profile %q (city-standard, company-template)", name))
}

// Retention is RetentionDays as a duration.
func (p Policy) Retention() time.Duration {
	return time.Duration(p.RetentionDays * float64(24*time.Hour))
}
