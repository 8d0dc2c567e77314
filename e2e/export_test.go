package e2e

import (
	"testing"
	"time"
)

// attachExporter wires the export engine into core (store.SetExporter).
// Stub until recorder/export lands.
func attachExporter(t *testing.T, r *rig) {}

func (r *rig) hasExporter() bool { return false }

func (r *rig) exportAndCheck(id string, from, to time.Time) string { return "" }
