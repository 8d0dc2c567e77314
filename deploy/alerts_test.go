package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"gopkg.in/yaml.v3"

	"mimamori/core"
	"mimamori/metrics"
	"mimamori/sshd"
)

const rulesDir = "prometheus"

func TestAlertRulesPassPromtoolCheck(t *testing.T) {
	promtool := tool(t, "promtool", "prometheus")
	out, ok := run(t, rulesDir, promtool, "check", "rules", "alerts.yml")
	if !ok {
		t.Fatalf("promtool check rules:\n%s", out)
	}
	t.Logf("promtool check rules: %s", strings.TrimSpace(out))
}

func TestAlertRulesPassTheirUnitTests(t *testing.T) {
	promtool := tool(t, "promtool", "prometheus")
	out, ok := run(t, rulesDir, promtool, "test", "rules", "alerts_test.yml")
	if !ok {
		t.Fatalf("promtool test rules:\n%s", out)
	}
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []rule `yaml:"rules"`
	} `yaml:"groups"`
}

type rule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

type ruleTests struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		Name          string `yaml:"name"`
		AlertRuleTest []struct {
			EvalTime  string `yaml:"eval_time"`
			Alertname string `yaml:"alertname"`
			ExpAlerts []struct {
				ExpLabels map[string]string `yaml:"exp_labels"`
			} `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

func loadYAML(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(rulesDir, name))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// loadAlerts returns the shipped alerting rules by name.
func loadAlerts(t *testing.T) map[string]rule {
	t.Helper()
	var rf ruleFile
	loadYAML(t, "alerts.yml", &rf)
	out := map[string]rule{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			if _, dup := out[r.Alert]; dup {
				t.Errorf("alert %s defined twice", r.Alert)
			}
			out[r.Alert] = r
		}
	}
	return out
}

// The same properties as promtool's checks, in pure Go, so they hold where
// promtool is missing: every alert the issue asks for exists, is well
// formed, reads only metrics the appliance exposes, and has unit tests
// where it fires and where it stays quiet.
func TestAlertRulesAreComplete(t *testing.T) {
	alerts := loadAlerts(t)
	for _, want := range []string{"MimamoriCameraDown", "MimamoriCameraNoFrames", "MimamoriRetentionShort",
		"MimamoriRingWriteErrors", "MimamoriDiskNearlyFull", "MimamoriClockStep", "MimamoriLedgerCheckFailed",
		"MimamoriHoldShareNearlyUsed"} {
		if _, ok := alerts[want]; !ok {
			t.Errorf("no alert %s", want)
		}
	}
	exposed := exposedMetrics(t)
	metricName := regexp.MustCompile(`\bmimamori_[a-z0-9_]+\b`)
	for name, r := range alerts {
		if strings.TrimSpace(r.Expr) == "" {
			t.Errorf("%s: no expr", name)
		}
		if r.For != "" {
			if _, err := time.ParseDuration(r.For); err != nil {
				t.Errorf("%s: for %q: %v", name, r.For, err)
			}
		}
		if s := r.Labels["severity"]; s != "critical" && s != "warning" {
			t.Errorf("%s: severity %q (want critical or warning)", name, s)
		}
		if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
			t.Errorf("%s: needs a summary and a description", name)
		}
		for _, m := range metricName.FindAllString(r.Expr, -1) {
			if !exposed[m] {
				t.Errorf("%s reads %s, which the appliance does not expose", name, m)
			}
		}
	}

	var tests ruleTests
	loadYAML(t, "alerts_test.yml", &tests)
	if !slices.Contains(tests.RuleFiles, "alerts.yml") {
		t.Errorf("alerts_test.yml does not load alerts.yml: %v", tests.RuleFiles)
	}
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if _, ok := alerts[a.Alertname]; !ok {
				t.Errorf("test %q checks unknown alert %s", tc.Name, a.Alertname)
			}
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	for name := range alerts {
		if !fires[name] || !quiet[name] {
			t.Errorf("%s: unit tests must show it firing (%v) and quiet (%v)", name, fires[name], quiet[name])
		}
	}
}

type oneCamera struct{}

func (oneCamera) Stats() core.RecorderStats {
	return core.RecorderStats{
		Ring:    core.RingStats{FsyncSeconds: core.NewHistogram(core.FsyncBuckets)},
		Cameras: []core.CameraStats{{Camera: "cam1", State: "recording"}},
	}
}

type console struct{}

func (console) Stats() sshd.Stats { return sshd.Stats{} }

// exposedMetrics is every metric name the appliance's endpoint can show,
// with every source attached (histograms with their series suffixes).
func exposedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	st, err := core.Open(filepath.Join(t.TempDir(), "mimamori.db"), core.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c := metrics.NewCollector(metrics.Sources{Recorder: oneCamera{}, Ledger: st, Console: console{},
		LedgerCheck: func() (bool, bool) { return true, true }})
	mfs, err := metrics.Registry(c, metrics.NewExports()).Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, mf := range mfs {
		n := mf.GetName()
		out[n] = true
		if mf.GetType() == dto.MetricType_HISTOGRAM {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				out[n+s] = true
			}
		}
	}
	names := make([]string, 0, len(out))
	for n := range out {
		names = append(names, n)
	}
	sort.Strings(names)
	t.Logf("%d metric names exposed", len(names))
	return out
}
