// Package appliance wires the parts of mimamori together: the core
// store, the recorder and the SSH console, as serve and demo run them.
package appliance

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"

	"golang.org/x/crypto/ssh"

	"mimamori/config"
	"mimamori/core"
	"mimamori/keys"
)

// PolicyFor builds the core policy profile from the config: the named
// profile, then the config's retention, hold share and overrides.
func PolicyFor(cfg *config.Config) (core.Policy, error) {
	p, err := core.PolicyByName(cfg.Policy)
	if err != nil {
		return core.Policy{}, err
	}
	if cfg.Retention.Days > 0 {
		p.RetentionDays = cfg.Retention.Days
	}
	p.HoldShare = cfg.Storage.HoldShare
	o := cfg.PolicyOverrides
	if o.LiveView != nil {
		p.LiveViewAllowed = *o.LiveView
	}
	if o.ViewerGrants != nil {
		p.ViewerGrantsAllowed = *o.ViewerGrants
	}
	if o.MaxExtensionDays != nil {
		p.MaxExtensionDays = *o.MaxExtensionDays
	}
	if o.InspectionIntervalDays != nil {
		p.InspectionIntervalDays = *o.InspectionIntervalDays
	}
	if o.MaxManagers != nil {
		// 000 §5-2 names one manager: the city profile keeps exactly one.
		if p.Regulation == "000" && *o.MaxManagers != 1 {
			return core.Policy{}, fmt.Errorf("policy_overrides.max_managers: the city standard (000 §5-2) has exactly one manager")
		}
		p.MaxManagers = *o.MaxManagers
	}
	if org := cfg.Organization; org.Name != "" || org.Section != "" || org.Addressee != "" {
		if org.Name != "" {
			p.Organization.Name = org.Name
		}
		p.Organization.Section, p.Organization.Addressee = org.Section, org.Addressee
	}
	return p, nil
}

// coreCameras converts the configured cameras into register entries.
func coreCameras(cfg *config.Config) []core.Camera {
	out := make([]core.Camera, 0, len(cfg.Cameras))
	for _, c := range cfg.Cameras {
		out = append(out, core.Camera{
			ID:              c.ID,
			Number:          strconv.Itoa(c.Number),
			Name:            c.Name,
			Location:        c.Location,
			Direction:       c.Direction,
			URL:             c.URL,
			SignPosted:      c.SignPosted,
			PoliceConsulted: c.PoliceConsulted,
		})
	}
	return out
}

// DBPath is where core's database lives under a data directory.
func DBPath(dataDir string) string { return filepath.Join(dataDir, "mimamori.db") }

// Appliance is what serve (and demo) open before anything listens.
type Appliance struct {
	Config  *config.Config
	Store   *core.Store
	HostKey ssh.Signer
	HostFP  string
}

// Open opens core on DATA_DIR/mimamori.db with the config's
// policy, loads (or creates) the host key and syncs the camera register.
func Open(cfg *config.Config, log *slog.Logger) (*Appliance, error) {
	pol, err := PolicyFor(cfg)
	if err != nil {
		return nil, err
	}
	st, err := core.Open(DBPath(cfg.DataDir), core.Options{Logger: log, Policy: pol})
	if err != nil {
		return nil, err
	}
	signer, fp, created, err := keys.LoadOrCreateHostKey(cfg.DataDir)
	if err != nil {
		st.Close()
		return nil, err
	}
	if created {
		log.Info("created SSH host key", "path", keys.HostKeyPath(cfg.DataDir), "fingerprint", fp)
	}
	// The host key also signs the ledger's checkpoints (one identity).
	if err := st.SetLogSigner(cfg.ApplianceID, signer); err != nil {
		st.Close()
		return nil, err
	}
	st.SetExportDir(cfg.ExportDir) // packages are found by name there, wherever they were written
	if err := st.SyncCameras(core.SystemActor("config"), coreCameras(cfg)); err != nil {
		st.Close()
		return nil, fmt.Errorf("camera register: %w", err)
	}
	return &Appliance{Config: cfg, Store: st, HostKey: signer, HostFP: fp}, nil
}

// Close closes the store. Stop a Running first.
func (a *Appliance) Close() error { return a.Store.Close() }
