// Package config loads and checks the appliance's YAML configuration.
//
// Every mistake is reported at start, naming the key and the line, so an
// appliance never runs half-configured.
package config

import (
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// Config is the checked configuration. Paths are absolute; sizes are bytes.
type Config struct {
	// File is the absolute path the configuration was loaded from ("" for Default).
	File string

	DataDir   string // holds mimamori.db, index.db, ring.dat, ssh/
	ExportDir string // export packages are written here; default DataDir/exports

	SSH       SSH
	Storage   Storage
	Retention Retention

	Policy          string          // policy profile: "city" (seed 000) or "company" (seed 001)
	PolicyOverrides PolicyOverrides // site departures from the profile
	// Organization is the city or company named on forms and signs.
	Organization Organization

	Lang        string         // "ja" or "en"
	Timezone    string         // IANA name, for display only; storage is UTC
	Location    *time.Location // Timezone, loaded
	ApplianceID string         // names this appliance in manifests and the ledger

	Cameras []Camera

	Metrics Metrics
	Log     Log
}

// Metrics configures the Prometheus endpoint.
type Metrics struct {
	// Listen is host:port of the /metrics endpoint; "" (the default) turns
	// it off. Keep it on loopback and reach it through a tunnel or a
	// proxy (docs/install.md).
	Listen string
}

// Log configures the appliance's log on stderr (the journal under systemd).
type Log struct {
	Level  slog.Level // debug, info (default), warn or error
	Format string     // "text" (default, key=value) or "json"
}

// Log formats the configuration accepts.
const (
	LogText = "text"
	LogJSON = "json"
)

// SSH configures the console server.
type SSH struct {
	Listen      string        // host:port
	IdleTimeout time.Duration // a session idle this long is closed
	MaxSessions int           // concurrent sessions; more are refused
	// PlaybackPort is the loopback port viewing links use, reached only
	// through an SSH session's port forward. Stable, so users can forward
	// it when they log in (ssh -L); 0 picks a free port at each start.
	PlaybackPort int
}

// MinBlocksPerCamera is the smallest share of the ring a camera can record
// in: its open block, one being sealed, and two for the erased reserve and
// retention. It equals recorder/ring's MinBlocksPerCamera (a ring test
// checks).
const MinBlocksPerCamera = 4

// Storage configures the overwrite ring.
type Storage struct {
	Capacity  int64   // bytes of ring.dat
	BlockSize int64   // bytes per ring block
	HoldShare float64 // share of Capacity holds may pin, 0 ≤ x < 1
}

// Retention configures how long footage is kept.
type Retention struct {
	// Days overrides the policy profile's retention when > 0.
	Days float64
}

// Duration is Days as a time.Duration (0 when unset).
func (r Retention) Duration() time.Duration {
	return time.Duration(r.Days * float64(24*time.Hour))
}

// Organization names whoever runs the cameras: the issuer of forms 1-3.
type Organization struct {
	Name      string // 四街道市, ○○株式会社
	Section   string // the responsible section (所属)
	Addressee string // form 2's addressee (default: the profile's, e.g. 四街道市長)
}

// PolicyOverrides are optional departures from the policy profile; nil
// means "as the profile says". Retention and hold share have their own keys.
type PolicyOverrides struct {
	LiveView         *bool // offer live view at all
	ViewerGrants     *bool // allow temporary viewers (seed 001 §4)
	MaxExtensionDays *int  // how far ahead a hold may end; 0 = no limit
	// MaxManagers is how many active manager keys the company profile
	// allows (0 = any); the city profile keeps exactly one (000 §5-2).
	MaxManagers *int
	// InspectionIntervalDays is the periodic inspection schedule (001 §8-1).
	InspectionIntervalDays *int
}

// Camera is one camera of the register, as configured.
type Camera struct {
	ID        string // short id used in commands and URLs, e.g. "cam1"
	Number    int    // the number on the sign and in forms; default position in the list
	Name      string // default ID
	Location  string // 設置箇所
	Direction string // direction and range of view
	URL       string // rtsp:// or rtsps://
	Transport string // "tcp" (default) or "udp"
	// StallTimeout: no frame for this long and the camera is reconnected
	// (0: the recorder's 5 s, widened to the camera's own pace). Set it
	// for a camera slower than a picture every 100 s.
	StallTimeout time.Duration
	// Register fields of seed 000 §4: sign posted (form 1) and the date the
	// police were consulted about the installation (zero if not given).
	SignPosted      bool
	PoliceConsulted time.Time
	Line            int // line of the entry in the config file (0 if not from a file)
}

// SafeURL is the URL with any password replaced, for logs and screens.
func (c Camera) SafeURL() string {
	u, err := url.Parse(c.URL)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// Policies and languages the configuration accepts.
const (
	PolicyCity    = "city"
	PolicyCompany = "company"
	LangJA        = "ja"
	LangEN        = "en"
)

// Default returns the configuration used for every key the file leaves out.
// Its relative paths are resolved by Parse against the config file's dir.
func Default() *Config {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "mimamori"
	}
	return &Config{
		DataDir: "data",
		SSH: SSH{
			Listen:       "127.0.0.1:2222",
			IdleTimeout:  30 * time.Minute,
			MaxSessions:  32,
			PlaybackPort: 2280,
		},
		Storage: Storage{
			Capacity:  20 << 30,
			BlockSize: 4 << 20,
			HoldShare: 0.25,
		},
		Policy:      PolicyCity,
		Lang:        LangJA,
		Timezone:    "Asia/Tokyo",
		ApplianceID: host,
		Log:         Log{Level: slog.LevelInfo, Format: LogText},
	}
}

// Load reads and checks the configuration file at path. Relative paths in
// it resolve against the file's directory.
func Load(path string) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := parse(data, filepath.Dir(abs), abs)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Parse checks a configuration held in memory. Relative paths resolve
// against baseDir. Directories named by data_dir and export_dir are created
// if missing and must be writable.
func Parse(data []byte, baseDir string) (*Config, error) {
	return parse(data, baseDir, "")
}

// CameraByID returns the configured camera with that id.
func (c *Config) CameraByID(id string) (Camera, bool) {
	for _, cam := range c.Cameras {
		if cam.ID == id {
			return cam, true
		}
	}
	return Camera{}, false
}
