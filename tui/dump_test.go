package tui

import (
	"fmt"
	"os"
	"testing"

	"mimamori/core"
)

func TestDump(t *testing.T) {
	if os.Getenv("DUMP") == "" {
		t.Skip("DUMP not set")
	}
	for _, lang := range []string{"ja", "en"} {
		for _, sz := range [][2]int{{80, 24}, {160, 48}} {
			u := syncUI(t, newFake(8), core.RoleManager, lang, sz[0], sz[1])
			for i := range u.tabs {
				u.switchTo(i)
				run(u, u.want(loadCoverage))
				fmt.Printf("==== %s %dx%d tab %d\n%s\n", lang, sz[0], sz[1], i, u.View())
			}
		}
	}
}
