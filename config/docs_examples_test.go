package config

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// yamlBlock is a fenced YAML block of a markdown file.
var yamlBlock = regexp.MustCompile("(?s)```yaml\n(.*?)```")

// TestDocsExampleConfigsParse loads the example configurations of
// README.md and docs/install.md as they are written (their directories
// moved under a temporary one), so a key renamed or a value the parser
// refuses fails here instead of on a reader's first start.
func TestDocsExampleConfigsParse(t *testing.T) {
	for _, doc := range []string{"../README.md", "../docs/install.md"} {
		raw, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, m := range yamlBlock.FindAllStringSubmatch(string(raw), -1) {
			text := m[1]
			if !strings.Contains(text, "cameras:") {
				continue // not a mimamori config (e.g. prometheus.yml)
			}
			n++
			dir := t.TempDir()
			// Absolute directories of a real machine become ones under dir.
			text = regexp.MustCompile(`(?m)^(data_dir|export_dir):\s*/\S+`).ReplaceAllStringFunc(text, func(s string) string {
				key, _, _ := strings.Cut(s, ":")
				return key + ": " + filepath.Join(dir, key)
			})
			path := filepath.Join(dir, "mimamori.yaml")
			if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := Load(path)
			if err != nil {
				t.Errorf("%s, example config %d: %v", doc, n, err)
				continue
			}
			if len(c.Cameras) == 0 {
				t.Errorf("%s, example config %d: no cameras", doc, n)
			}
		}
		if n == 0 {
			t.Errorf("%s: no example configuration found", doc)
		}
	}
}
