package core

import "testing"

func TestEveryActionHasAClass(t *testing.T) {
	for _, a := range AllActions() {
		if _, ok := actionClasses[a]; !ok {
			t.Errorf("action %s has no class: add it to actionClasses (classes.go)", a)
		}
	}
	for a := range actionClasses {
		if _, inTable := permissions[a]; !inTable && !isLedgerOnly(a) {
			t.Errorf("actionClasses lists %s, which is no action", a)
		}
	}
	if ClassOf(ActionErasure) != ClassMachine || ClassOf(ActionRequestApprove) != ClassPeople {
		t.Error("classes of erasure / request.approve")
	}
	if !ShowPeople.Shows(ActionView) || ShowPeople.Shows(ActionErasure) || !ShowMachine.Shows(ActionRecordingEvent) ||
		ShowMachine.Shows(ActionLogin) || !ShowAll.Shows(ActionErasure) {
		t.Error("LedgerShow")
	}
}

func isLedgerOnly(a Action) bool {
	for _, x := range ledgerOnlyActions {
		if x == a {
			return true
		}
	}
	return false
}
