package core

import "fmt"

// Who may copy a request's footage off the appliance: export its package
// and fetch it. The permission table lets managers and operators; the
// policy may narrow operators to the request they were instructed to
// (Policy.OperatorCopiesOnInstruction, 000 §9-4). copyRefusal is the one
// place that decides it; ExportRequest, ExportPackageByName and
// BeginFetch ask it.

// refusedNotInstructed is the ledger's reason for such a refusal (one
// refusal kind per person, however many requests they try).
const refusedNotInstructed = "the search was not instructed to this operator"

// refusedHandedOver: a copy kept after the handover (a manager's hold
// keeps its footage) is kept for the hold, not to be copied again: the
// approval was for the copy handed over. A manager may fetch it.
const refusedHandedOver = "the package was handed over: later copies are the manager's"

// copyRefusal says why actor may not copy r's footage, "" if they may.
func (s *Store) copyRefusal(actor Actor, r Request) string {
	if r.Provision != nil && !ScopeOf(actor.Role).OwnerOfAll {
		return refusedHandedOver
	}
	if s.policy.OperatorCopiesOnInstruction && ScopeOf(actor.Role).AssignedOnly && !r.AssignedTo(actor) {
		return refusedNotInstructed
	}
	return ""
}

// refuseCopy ledgers a copy refusal (coalesced, like every refusal) and
// returns the error the caller gets: ErrForbidden with the reason.
func (s *Store) refuseCopy(actor Actor, action Action, r Request, why string) error {
	s.refuse(actor, string(action), why, "", r.ID)
	if why == refusedHandedOver {
		return fmt.Errorf("%w: role %s may not %s: %w", ErrForbidden, actor.Role, action, &Refusal{Reason: fmt.Sprintf(
			"%s was handed over; the appliance keeps its copy only for a hold, and only a manager copies it again", r.ID)})
	}
	to := "no one yet"
	if r.AssignedOperator != "" {
		to = r.AssignedOperator
	}
	return fmt.Errorf("%w: role %s may not %s: %w", ErrForbidden, actor.Role, action, &Refusal{Reason: fmt.Sprintf(
		"under the %s policy only the operator the search of %s was instructed to (%s), or a manager, copies its footage",
		s.policy.Name, r.ID, CleanLine(to, 100))})
}
