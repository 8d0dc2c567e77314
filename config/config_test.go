package config

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

const full = `# every key
data_dir: data
export_dir: out
ssh:
  listen: ":2200"
  idle_timeout: 10m
  max_sessions: 8
  playback_port: 2281
storage:
  capacity: 2GiB
  block_size: 8MiB
  hold_share: 0.3
retention:
  days: 7
policy: company
policy_overrides:
  live_view: false
  viewer_grants: true
  max_extension_days: 30
lang: en
timezone: UTC
appliance_id: yotsukaido-1
cameras:
  - id: cam1
    number: 11
    name: 駅前
    location: 四街道駅北口
    direction: 北向き、ロータリー全体
    url: rtsp://user:secret@10.0.0.5:554/stream1
    transport: udp
    sign_posted: true
    police_consulted: 2024-04-01
  - id: cam2
    url: rtsps://10.0.0.6/live
    stall_timeout: 2m
`

func TestParseFull(t *testing.T) {
	base := t.TempDir()
	c, err := Parse([]byte(full), base)
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != filepath.Join(base, "data") || c.ExportDir != filepath.Join(base, "out") {
		t.Errorf("dirs = %q, %q", c.DataDir, c.ExportDir)
	}
	for _, d := range []string{c.DataDir, c.ExportDir} {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			t.Errorf("%s not created: %v", d, err)
		}
	}
	if c.SSH != (SSH{Listen: ":2200", IdleTimeout: 10 * time.Minute, MaxSessions: 8, PlaybackPort: 2281}) {
		t.Errorf("ssh = %+v", c.SSH)
	}
	if c.Storage != (Storage{Capacity: 2 << 30, BlockSize: 8 << 20, HoldShare: 0.3}) {
		t.Errorf("storage = %+v", c.Storage)
	}
	if c.Retention.Duration() != 7*24*time.Hour {
		t.Errorf("retention = %v", c.Retention.Duration())
	}
	if c.Policy != "company" || c.Lang != "en" || c.Timezone != "UTC" || c.Location != time.UTC || c.ApplianceID != "yotsukaido-1" {
		t.Errorf("policy/lang/tz/id = %q %q %q %v %q", c.Policy, c.Lang, c.Timezone, c.Location, c.ApplianceID)
	}
	o := c.PolicyOverrides
	if o.LiveView == nil || *o.LiveView || o.ViewerGrants == nil || !*o.ViewerGrants || o.MaxExtensionDays == nil || *o.MaxExtensionDays != 30 {
		t.Errorf("policy overrides = %+v", o)
	}
	if len(c.Cameras) != 2 {
		t.Fatalf("cameras = %+v", c.Cameras)
	}
	want0 := Camera{ID: "cam1", Number: 11, Name: "駅前", Location: "四街道駅北口", Direction: "北向き、ロータリー全体",
		URL: "rtsp://user:secret@10.0.0.5:554/stream1", Transport: "udp", Line: 24,
		SignPosted: true, PoliceConsulted: time.Date(2024, 4, 1, 0, 0, 0, 0, time.UTC)}
	if c.Cameras[0] != want0 {
		t.Errorf("cam1 = %+v", c.Cameras[0])
	}
	want1 := Camera{ID: "cam2", Number: 2, Name: "cam2", URL: "rtsps://10.0.0.6/live", Transport: "tcp", Line: 33,
		StallTimeout: 2 * time.Minute}
	if c.Cameras[1] != want1 {
		t.Errorf("cam2 = %+v", c.Cameras[1])
	}
	if s := c.Cameras[0].SafeURL(); strings.Contains(s, "secret") {
		t.Errorf("SafeURL leaks the password: %s", s)
	}
}

func TestParseDefaults(t *testing.T) {
	base := t.TempDir()
	c, err := Parse(nil, base)
	if err != nil {
		t.Fatal(err)
	}
	d := Default()
	if c.SSH != d.SSH || c.Storage != d.Storage || c.Policy != "city" || c.Lang != "ja" || c.Timezone != "Asia/Tokyo" {
		t.Errorf("defaults not applied: %+v", c)
	}
	if c.Location == nil || c.Location.String() != "Asia/Tokyo" {
		t.Errorf("location = %v", c.Location)
	}
	if c.DataDir != filepath.Join(base, "data") || c.ExportDir != filepath.Join(base, "data", "exports") {
		t.Errorf("dirs = %q %q", c.DataDir, c.ExportDir)
	}
	if c.Retention.Days != 0 {
		t.Errorf("retention should defer to the policy, got %v", c.Retention.Days)
	}
}

func TestLoadResolvesAgainstFileDir(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "etc", "mimamori.yaml")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("data_dir: ../var\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != filepath.Join(dir, "var") || c.File != path {
		t.Errorf("DataDir = %q File = %q", c.DataDir, c.File)
	}
	// A file error names the file.
	if err := os.WriteFile(path, []byte("lang: fr\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("error %v should name %s and line 1", err, path)
	}
}

func TestParseRejects(t *testing.T) {
	cams := func(items string) string { return "cameras:\n" + items }
	tests := []struct {
		name, yaml, key string
		line            int
		also            []string // further substrings, e.g. the second line of a duplicate
	}{
		{"unknown top key", "lang: en\nretension:\n  days: 3\n", "retension", 2, nil},
		{"unknown nested key", "ssh:\n  listen: \":22\"\n  port: 22\n", "ssh.port", 3, nil},
		{"unknown camera key", cams("  - id: a\n    url: rtsp://h/\n    ptz: true\n"), "cameras[0].ptz", 4, nil},
		{"repeated key", "lang: en\nlang: ja\n", "lang", 2, []string{"line 1"}},
		{"size words", "storage:\n  capacity: twenty\n", "storage.capacity", 2, nil},
		{"size negative", "storage:\n  capacity: -5GiB\n", "storage.capacity", 2, nil},
		{"size zero", "storage:\n  capacity: 0\n", "storage.capacity", 2, nil},
		{"size bad unit", "storage:\n  capacity: 20 parsecs\n", "storage.capacity", 2, nil},
		{"block size unaligned", "storage:\n  block_size: 100000\n", "storage.block_size", 2, nil},
		{"too few blocks", "storage:\n  capacity: 8MiB\n  block_size: 4MiB\n", "storage.capacity", 1, nil},
		{"hold share one", "storage:\n  hold_share: 1\n", "storage.hold_share", 2, nil},
		{"cameras more than blocks", "storage:\n  capacity: 8MiB\n  block_size: 1MiB\n" +
			cams("  - id: a\n    url: rtsp://a/\n  - id: b\n    url: rtsp://b/\n  - id: c\n    url: rtsp://c/\n"),
			"storage.capacity", 1, []string{"3 cameras need at least 12 (4 per camera)", "12 MiB"}},
		{"hold share text", "storage:\n  hold_share: lots\n", "storage.hold_share", 2, nil},
		{"duration bad", "ssh:\n  idle_timeout: 30 minutes\n", "ssh.idle_timeout", 2, nil},
		{"duration unitless", "ssh:\n  idle_timeout: 30\n", "ssh.idle_timeout", 2, nil},
		{"duration negative", "ssh:\n  idle_timeout: -1m\n", "ssh.idle_timeout", 2, nil},
		{"max sessions zero", "ssh:\n  max_sessions: 0\n", "ssh.max_sessions", 2, nil},
		{"playback port too big", "ssh:\n  playback_port: 70000\n", "ssh.playback_port", 2, nil},
		{"max sessions text", "ssh:\n  max_sessions: many\n", "ssh.max_sessions", 2, nil},
		{"listen no port", "ssh:\n  listen: localhost\n", "ssh.listen", 2, nil},
		{"retention zero", "retention:\n  days: 0\n", "retention.days", 2, nil},
		{"retention text", "retention:\n  days: week\n", "retention.days", 2, nil},
		{"policy", "policy: village\n", "policy", 1, nil},
		{"lang", "lang: fr\n", "lang", 1, nil},
		{"override bool", "policy_overrides:\n  live_view: yes\n", "policy_overrides.live_view", 2, nil},
		{"override unknown", "policy_overrides:\n  analytics: true\n", "policy_overrides.analytics", 2, nil},
		{"override days", "policy_overrides:\n  max_extension_days: -1\n", "policy_overrides.max_extension_days", 2, nil},
		{"timezone", "timezone: Mars/Olympus\n", "timezone", 1, nil},
		{"appliance id empty", "appliance_id: \"\"\n", "appliance_id", 1, nil},
		{"ssh not a mapping", "ssh: yes\n", "ssh", 1, nil},
		{"cameras not a list", "cameras: cam1\n", "cameras", 1, nil},
		{"duplicate camera id", cams("  - id: cam1\n    url: rtsp://a/\n  - id: cam1\n    url: rtsp://b/\n"),
			"cameras[1].id", 4, []string{"line 2"}},
		{"duplicate camera number", cams("  - id: a\n    number: 3\n    url: rtsp://a/\n  - id: b\n    number: 3\n    url: rtsp://b/\n"),
			"cameras[1].number", 6, []string{"line 3"}},
		{"camera id missing", cams("  - url: rtsp://a/\n"), "cameras[0].id", 2, nil},
		{"camera id bad", cams("  - id: cam 1\n    url: rtsp://a/\n"), "cameras[0].id", 2, nil},
		{"camera url http", cams("  - id: a\n    url: http://10.0.0.5/\n"), "cameras[0].url", 3, nil},
		{"camera url no host", cams("  - id: a\n    url: rtsp:///x\n"), "cameras[0].url", 3, nil},
		{"camera url missing", cams("  - id: a\n    name: x\n"), "cameras[0].url", 2, nil},
		{"camera police date", cams("  - id: a\n    url: rtsp://a/\n    police_consulted: last spring\n"), "cameras[0].police_consulted", 4, nil},
		{"camera sign", cams("  - id: a\n    url: rtsp://a/\n    sign_posted: 1\n"), "cameras[0].sign_posted", 4, nil},
		{"camera transport", cams("  - id: a\n    url: rtsp://a/\n    transport: quic\n"), "cameras[0].transport", 4, nil},
		{"camera stall timeout short", cams("  - id: a\n    url: rtsp://a/\n    stall_timeout: 500ms\n"), "cameras[0].stall_timeout", 4, nil},
		{"camera stall timeout long", cams("  - id: a\n    url: rtsp://a/\n    stall_timeout: 2h\n"), "cameras[0].stall_timeout", 4, nil},
		{"camera stall timeout text", cams("  - id: a\n    url: rtsp://a/\n    stall_timeout: slow\n"), "cameras[0].stall_timeout", 4, nil},
		{"camera number text", cams("  - id: a\n    url: rtsp://a/\n    number: one\n"), "cameras[0].number", 4, nil},
		{"bad yaml", "ssh:\n  listen: [\n", "", 2, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), t.TempDir())
			if err == nil {
				t.Fatalf("accepted:\n%s", tt.yaml)
			}
			msg := err.Error()
			if tt.key != "" && !strings.Contains(msg, "key "+tt.key+":") {
				t.Errorf("error does not name key %q: %s", tt.key, msg)
			}
			if !strings.Contains(msg, "line "+strconv.Itoa(tt.line)) {
				t.Errorf("error does not name line %d: %s", tt.line, msg)
			}
			for _, s := range tt.also {
				if !strings.Contains(msg, s) {
					t.Errorf("error lacks %q: %s", s, msg)
				}
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Errorf("error is not a *config.Error: %T", err)
			}
		})
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	_, err := Parse([]byte("lang: fr\npolicy: x\nfoo: 1\n"), t.TempDir())
	var es Errors
	if !errors.As(err, &es) || len(es) != 3 {
		t.Fatalf("want 3 errors, got %v", err)
	}
	for i, e := range es {
		if e.Line != i+1 {
			t.Errorf("error %d at line %d: %v", i, e.Line, e)
		}
	}
}

func TestParseDirs(t *testing.T) {
	base := t.TempDir()
	file := filepath.Join(base, "plainfile")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, yaml, key string
		line            int
	}{
		{"data_dir is a file", "lang: en\ndata_dir: plainfile\n", "data_dir", 2},
		{"export_dir under a file", "export_dir: plainfile/sub\n", "export_dir", 1},
	}
	if os.Geteuid() != 0 && runtime.GOOS != "windows" {
		ro := filepath.Join(base, "ro")
		if err := os.Mkdir(ro, 0o555); err != nil {
			t.Fatal(err)
		}
		tests = append(tests, struct {
			name, yaml, key string
			line            int
		}{"export_dir read-only", "\n\nexport_dir: ro\n", "export_dir", 3})
	} else {
		t.Log("running as root: the read-only directory case cannot fail, skipped")
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), base)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), "key "+tt.key+":") || !strings.Contains(err.Error(), "line "+strconv.Itoa(tt.line)) {
				t.Errorf("error should name %s and line %d: %v", tt.key, tt.line, err)
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	good := map[string]int64{
		"20GiB": 20 << 30, "500MiB": 500 << 20, "1TB": 1e12, "20GB": 20e9, "4096": 4096,
		"1.5 GiB": 3 << 29, "4M": 4 << 20, "64kib": 64 << 10, "10B": 10,
	}
	for s, want := range good {
		if got, err := ParseSize(s); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "twenty", "-1GiB", "0", "0.1B", "GiB", "1e30TB", "1..2MB", "NaN", "5 GiBs"} {
		if got, err := ParseSize(s); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", s, got)
		}
	}
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[int64]string{512: "512 B", 4 << 20: "4 MiB", 3 << 29: "1.5 GiB"} {
		if got := FormatSize(n); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", n, got, want)
		}
	}
}

// hold_share: 0 means no holds, not the default.
func TestHoldShareZeroKept(t *testing.T) {
	c, err := Parse([]byte("storage:\n  hold_share: 0\n"), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if c.Storage.HoldShare != 0 {
		t.Fatalf("hold_share 0 parsed as %v", c.Storage.HoldShare)
	}
}
