package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// The camera-down alert, as shipped in deploy/prometheus/alerts.yml, fires
// in a real Prometheus within 60 s of a camera stopping. Prometheus scrapes
// the appliance every second and evaluates the shipped rules every second;
// the test stops one of three simulated cameras and polls Prometheus's
// alerts API. Without Prometheus it says so and checks the same property
// itself: the rule's condition holds on the scraped metrics for the rule's
// `for` duration, within 60 s.
func TestCameraDownAlertFires(t *testing.T) {
	cams := startCameras(t, 3, nil)
	a := serveAppliance(t, t.TempDir(), cams, nil)
	a.waitRecording(30 * time.Second)
	target := a.run.MetricsAddr().String()

	scraped := scrape(t, target)
	lintScrape(t, scraped)

	prom, err := exec.LookPath("prometheus")
	if err != nil {
		t.Logf("SKIP real Prometheus: the prometheus binary is not installed (Debian package prometheus; .ci/run installs it): %v", err)
		t.Log("checking the same property against the scraped metrics instead")
		cameraDownWithoutPrometheus(t, a, target)
		return
	}
	p := startPrometheus(t, prom, target, repoFile(t, "deploy/prometheus/alerts.yml"))
	p.waitTargetUp(t, 30*time.Second)
	p.waitQuery(t, `count(mimamori_camera_up == 1)`, "3", 30*time.Second)
	p.waitQuery(t, `mimamori_ledger_check_ok`, "1", 30*time.Second)

	cams[1].Close() // cam2 goes dark
	stopped := time.Now()
	deadline := stopped.Add(60 * time.Second)
	for {
		firing := p.firing(t, "MimamoriCameraDown")
		for _, cam := range firing {
			if cam != "cam2" {
				t.Fatalf("camera-down fired for %s, which still records", cam)
			}
		}
		if len(firing) == 1 {
			t.Logf("MimamoriCameraDown{camera=cam2} firing %.1f s after the camera stopped", time.Since(stopped).Seconds())
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("camera-down not firing 60 s after the camera stopped; alerts: %s", p.get(t, "/api/v1/alerts"))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func scrape(t *testing.T, addr string) []byte {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	return b
}

// lintScrape runs `promtool check metrics` on what the appliance served,
// and Prometheus's lint in Go (the same checks) whether or not promtool is
// installed; both must be clean.
func lintScrape(t *testing.T, b []byte) {
	t.Helper()
	problems, err := promlint.New(bytes.NewReader(b)).Lint()
	if err != nil {
		t.Fatalf("promlint: %v", err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Logf("SKIP promtool check metrics: promtool not installed (Debian package prometheus): %v", err)
		return
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(b)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) != 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	if !bytes.Contains(b, []byte(`mimamori_camera_up{camera="cam1"} 1`)) {
		t.Errorf("scrape lacks cam1 up:\n%s", b)
	}
}

// cameraDownWithoutPrometheus: stop cam2 and watch the scraped series the
// shipped rule reads until its condition has held for the rule's `for`.
func cameraDownWithoutPrometheus(t *testing.T, a *served, target string) {
	rule := shippedRule(t, "MimamoriCameraDown")
	m := regexp.MustCompile(`^\s*(mimamori_[a-z_]+)\s*==\s*0\s*$`).FindStringSubmatch(rule.Expr)
	if m == nil {
		t.Fatalf("MimamoriCameraDown's expr changed (%q); update this check", rule.Expr)
	}
	hold, err := time.ParseDuration(rule.For)
	if err != nil {
		t.Fatal(err)
	}
	a.cams[1].Close()
	stopped := time.Now()
	var since time.Time
	for time.Since(stopped) < 60*time.Second {
		v, ok := sample(t, scrape(t, target), m[1], "cam2")
		switch {
		case !ok:
			t.Fatalf("no %s for cam2", m[1])
		case v != 0:
			since = time.Time{}
		case since.IsZero():
			since = time.Now()
		case time.Since(since) >= hold:
			t.Logf("%s{camera=cam2} == 0 for %s, %.1f s after the camera stopped", m[1], rule.For, time.Since(stopped).Seconds())
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("%s{camera=cam2} did not stay 0 for %s within 60 s", m[1], rule.For)
}

func sample(t *testing.T, b []byte, name, camera string) (float64, bool) {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	mf := fams[name]
	if mf == nil {
		return 0, false
	}
	for _, m := range mf.GetMetric() {
		if label(m, "camera") == camera && m.GetGauge() != nil {
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

type shipped struct {
	Alert string `yaml:"alert"`
	Expr  string `yaml:"expr"`
	For   string `yaml:"for"`
}

func shippedRule(t *testing.T, name string) shipped {
	t.Helper()
	b, err := os.ReadFile(repoFile(t, "deploy/prometheus/alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []shipped `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Alert == name {
				return r
			}
		}
	}
	t.Fatalf("no rule %s", name)
	return shipped{}
}

// promServer is a Prometheus child process on 127.0.0.1:0.
type promServer struct {
	base string // http://127.0.0.1:PORT
	logs *logBuf
}

var listeningOn = regexp.MustCompile(`msg="Listening on" address=(127\.0\.0\.1:\d+)`)

func startPrometheus(t *testing.T, bin, target, rules string) *promServer {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - %q
scrape_configs:
  - job_name: mimamori
    static_configs:
      - targets: [%q]
`, rules, target)
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:0", "--log.level=info")
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	p := &promServer{logs: &logBuf{}}
	addr := make(chan string, 1)
	var once sync.Once
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			_, _ = p.logs.Write([]byte(line + "\n"))
			if m := listeningOn.FindStringSubmatch(line); m != nil {
				once.Do(func() { addr <- m[1] })
			}
		}
		once.Do(func() { close(addr) })
	}()
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus log (tail):\n%s", tail(p.logs.String(), 40))
		}
	})
	select {
	case a, ok := <-addr:
		if !ok {
			t.Fatalf("prometheus exited before listening:\n%s", p.logs.String())
		}
		p.base = "http://" + a
	case <-time.After(30 * time.Second):
		t.Fatalf("prometheus did not say where it listens:\n%s", p.logs.String())
	}
	return p
}

// get returns the body of an API call. Until Prometheus is ready it
// answers 503; that comes back as "{}" so the pollers simply poll again.
func (p *promServer) get(t *testing.T, path string) []byte {
	t.Helper()
	resp, err := http.Get(p.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == http.StatusServiceUnavailable {
		return []byte("{}")
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", path, resp.Status, b)
	}
	return b
}

// waitTargetUp polls the targets API until the appliance is scraped.
func (p *promServer) waitTargetUp(t *testing.T, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var r struct {
			Data struct {
				ActiveTargets []struct {
					Health    string `json:"health"`
					LastError string `json:"lastError"`
				} `json:"activeTargets"`
			} `json:"data"`
		}
		b := p.get(t, "/api/v1/targets")
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("targets: %v: %s", err, b)
		}
		if len(r.Data.ActiveTargets) == 1 && r.Data.ActiveTargets[0].Health == "up" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("appliance not scraped after %s: %s", within, b)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitQuery polls an instant query until its single value is want.
func (p *promServer) waitQuery(t *testing.T, q, want string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var r struct {
			Data struct {
				Result []struct {
					Value [2]any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		b := p.get(t, "/api/v1/query?query="+url.QueryEscape(q))
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("query: %v: %s", err, b)
		}
		if len(r.Data.Result) == 1 && fmt.Sprint(r.Data.Result[0].Value[1]) == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is not %s after %s: %s", q, want, within, b)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// firing returns the cameras for which alert is firing.
func (p *promServer) firing(t *testing.T, alert string) []string {
	t.Helper()
	var r struct {
		Data struct {
			Alerts []struct {
				Labels map[string]string `json:"labels"`
				State  string            `json:"state"`
			} `json:"alerts"`
		} `json:"data"`
	}
	b := p.get(t, "/api/v1/alerts")
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("alerts: %v: %s", err, b)
	}
	var out []string
	for _, a := range r.Data.Alerts {
		if a.Labels["alertname"] == alert && a.State == "firing" {
			out = append(out, a.Labels["camera"])
		}
	}
	return out
}
