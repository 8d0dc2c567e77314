package synth

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Geometry is what a soak data directory was written with. The console
// benchmark (appliance.BenchmarkConsoleKeypressSoak) opens the appliance
// on the directory with the same ring and policy, and keeps recording
// fragments of the same size.
type Geometry struct {
	Cameras       int   `json:"Cameras"`
	Capacity      int64 `json:"Capacity"`
	BlockSize     int64 `json:"BlockSize"`
	FragmentBytes int   `json:"FragmentBytes"`
	// FragmentSeconds is the footage one fragment stands for (absent: 1).
	FragmentSeconds int       `json:"FragmentSeconds,omitempty"`
	Policy          string    `json:"Policy"`
	RetentionDays   float64   `json:"RetentionDays"`
	HoldShare       float64   `json:"HoldShare"`
	ApplianceID     string    `json:"ApplianceID"`
	Start           time.Time `json:"Start"`
	Days            int       `json:"Days"`
	// Keys in the directory, for the benchmark's console sessions.
	ManagerKey   string   `json:"ManagerKey"`
	OperatorKeys []string `json:"OperatorKeys"`
}

// GeometryFile is the file in the data directory that holds Geometry.
const GeometryFile = "soak.json"

// Save writes g into dir.
func (g Geometry) Save(dir string) error {
	b, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, GeometryFile), append(b, '\n'), 0o600)
}

// LoadGeometry reads the Geometry of the soak data directory dir.
func LoadGeometry(dir string) (Geometry, error) {
	var g Geometry
	b, err := os.ReadFile(filepath.Join(dir, GeometryFile))
	if err != nil {
		return g, fmt.Errorf("not a soak data directory: %w", err)
	}
	if err := json.Unmarshal(b, &g); err != nil {
		return g, fmt.Errorf("%s: %w", GeometryFile, err)
	}
	return g, nil
}
