package config

import (
	"log/slog"
	"strings"
	"testing"
)

// metrics.listen is off unless given; log level and format default to
// info and text and take what the file says.
func TestMetricsAndLogKeys(t *testing.T) {
	c, err := Parse(nil, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if c.Metrics.Listen != "" || c.Log.Level != slog.LevelInfo || c.Log.Format != LogText {
		t.Fatalf("defaults: metrics %q, log %v %q", c.Metrics.Listen, c.Log.Level, c.Log.Format)
	}
	c, err = Parse([]byte("metrics:\n  listen: 127.0.0.1:9464\nlog:\n  level: debug\n  format: json\n"), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if c.Metrics.Listen != "127.0.0.1:9464" || c.Log.Level != slog.LevelDebug || c.Log.Format != LogJSON {
		t.Fatalf("parsed: metrics %q, log %v %q", c.Metrics.Listen, c.Log.Level, c.Log.Format)
	}
	c, err = Parse([]byte("metrics:\n  listen: \"\"\n"), t.TempDir())
	if err != nil || c.Metrics.Listen != "" {
		t.Fatalf("empty listen: %q %v", c.Metrics.Listen, err)
	}
}

func TestMetricsAndLogRejects(t *testing.T) {
	for _, tt := range []struct{ yaml, key string }{
		{"metrics:\n  listen: 9464\n", "metrics.listen"},
		{"metrics:\n  listen: \"127.0.0.1:99999\"\n", "metrics.listen"},
		{"metrics:\n  path: /metrics\n", "metrics.path"},
		{"log:\n  level: verbose\n", "log.level"},
		{"log:\n  format: xml\n", "log.format"},
	} {
		_, err := Parse([]byte(tt.yaml), t.TempDir())
		if err == nil || !strings.Contains(err.Error(), "key "+tt.key+":") || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("%q: %v (want key %s, line 2)", tt.yaml, err, tt.key)
		}
	}
}

func TestParseLogLevel(t *testing.T) {
	for in, want := range map[string]slog.Level{"debug": slog.LevelDebug, "INFO": slog.LevelInfo,
		"warn": slog.LevelWarn, "warning": slog.LevelWarn, "error": slog.LevelError} {
		if got, err := ParseLogLevel(in); err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	if _, err := ParseLogLevel("trace"); err == nil {
		t.Error("trace accepted")
	}
}
