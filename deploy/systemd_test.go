package deploy

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const unitPath = "systemd/mimamori.service"

// unit parses a systemd unit into section -> key -> values (keys may
// repeat).
func unit(t *testing.T) map[string]map[string][]string {
	t.Helper()
	f, err := os.Open(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			out[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: not key=value in a section: %q", unitPath, n, line)
			}
			out[section][k] = append(out[section][k], v)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// What the issue asks of the unit, checked in pure Go so it holds where
// systemd-analyze cannot run.
func TestSystemdUnitHardening(t *testing.T) {
	u := unit(t)
	svc := u["Service"]
	for key, want := range map[string]string{
		"User":            "mimamori",
		"StateDirectory":  "mimamori",
		"ProtectSystem":   "strict",
		"NoNewPrivileges": "yes",
		"PrivateTmp":      "yes",
		"Restart":         "on-failure",
		"KillSignal":      "SIGTERM",
		"LimitCORE":       "0", // block keys must not reach a core file
	} {
		if got := svc[key]; len(got) != 1 || got[0] != want {
			t.Errorf("[Service] %s = %v, want %s", key, got, want)
		}
	}
	exec := svc["ExecStart"]
	if len(exec) != 1 || !strings.Contains(exec[0], " serve --config ") {
		t.Errorf("ExecStart %v does not run mimamori serve --config", exec)
	}
	// Stop = SSH sessions (≤ 10 s) + metrics (≤ 5 s) + the ring's last
	// sync; anything shorter cuts the last sync on a slow disk.
	if ts := svc["TimeoutStopSec"]; len(ts) != 1 {
		t.Errorf("TimeoutStopSec = %v", ts)
	} else if d, err := time.ParseDuration(ts[0]); err != nil || d < 30*time.Second {
		t.Errorf("TimeoutStopSec %s: %v (want ≥ 30s)", ts[0], err)
	}
	if w := u["Install"]["WantedBy"]; len(w) != 1 || w[0] != "multi-user.target" {
		t.Errorf("WantedBy = %v", w)
	}
}

// systemd-analyze verify against a scratch root holding the system's own
// units, a stand-in executable at ExecStart's path and our unit, so it
// runs without installing anything. verify exits 0 even on unknown keys
// and bad values (it only warns), so any output fails the test.
func TestSystemdUnitVerifies(t *testing.T) {
	analyze := tool(t, "systemd-analyze", "systemd")
	var sysUnits string
	for _, d := range []string{"/usr/lib/systemd/system", "/lib/systemd/system"} {
		if _, err := os.Stat(filepath.Join(d, "multi-user.target")); err == nil {
			sysUnits = d
			break
		}
	}
	if sysUnits == "" {
		t.Skip("systemd-analyze verify needs the system's units (multi-user.target); none found, systemd is not installed here")
	}
	root := t.TempDir()
	copyDir(t, sysUnits, filepath.Join(root, "usr/lib/systemd/system"))
	exec := strings.Fields(unit(t)["Service"]["ExecStart"][0])[0]
	writeFile(t, filepath.Join(root, exec), "#!/bin/sh\n", 0o755)
	b, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, "etc/systemd/system/mimamori.service"), string(b), 0o644)

	out, ok := run(t, root, analyze, "verify", "--root="+root, "mimamori.service")
	if !ok || strings.TrimSpace(out) != "" {
		t.Fatalf("systemd-analyze verify (exit ok: %v):\n%s", ok, out)
	}
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

// copyDir copies the regular files and symlinks of a unit directory (one
// level of .wants/.d subdirectories included).
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(dst, 0o755)
		case d.Type()&os.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, dst)
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(dst, b, 0o644)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
