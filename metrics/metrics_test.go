package metrics

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"mimamori/core"
	"mimamori/sshd"
)

type fakeRecorder struct{ st core.RecorderStats }

func (f *fakeRecorder) Stats() core.RecorderStats { return f.st }

type fakeConsole struct{ st sshd.Stats }

func (f fakeConsole) Stats() sshd.Stats { return f.st }

func sampleStats() core.RecorderStats {
	h := core.NewHistogram(core.FsyncBuckets)
	h.Observe(3 * time.Millisecond)
	h.Observe(40 * time.Millisecond)
	h.Observe(20 * time.Second) // above every bound
	return core.RecorderStats{
		Ring: core.RingStats{
			CapacityBytes: 64 << 20, UsedBytes: 10 << 20, HeldBytes: 2 << 20, HoldLimitBytes: 16 << 20,
			BlockSize: 1 << 20, Blocks: 64, FreeBlocks: 50, WriteErrors: 3, DiskFreeBytes: 5 << 30,
			FsyncSeconds: h,
			Erased:       map[string]core.ErasureCount{"retention": {Blocks: 4, Bytes: 4 << 20}},
			ClockSteps:   1, ClockOffset: -90 * time.Second,
			Alerts: []core.RingAlert{{Kind: "disk-stall", Detail: "a disk operation has waited 4s"},
				{Kind: "camera-starved", Camera: "cam2", Detail: "no ring block free"}},
		},
		Cameras: []core.CameraStats{
			{Camera: "cam1", Connected: true, State: "recording", FPS: 25, BitrateBps: 4e6,
				LastFrame: time.Now(), SinceLastFrame: 40 * time.Millisecond, FramesReceived: 1000, BytesReceived: 5 << 20,
				TargetRetain: 7 * 24 * time.Hour, AchievedRetain: time.Hour, Reconnects: 2, OversizeUnits: 4},
			{Camera: "cam2", State: "stalled"},
			{Camera: "cam3", State: "a-state-added-later"},
		},
	}
}

func newStore(t *testing.T) *core.Store {
	t.Helper()
	st, err := core.Open(filepath.Join(t.TempDir(), "mimamori.db"), core.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func gather(t *testing.T, reg *prometheus.Registry) []*dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

func text(t *testing.T, mfs []*dto.MetricFamily) string {
	t.Helper()
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// Every exposed metric passes Prometheus's own lint (the checks
// `promtool check metrics` runs): names, units, _total on counters, help.
func TestExpositionPassesPromlint(t *testing.T) {
	st := newStore(t)
	c := NewCollector(Sources{Recorder: &fakeRecorder{sampleStats()}, Ledger: st,
		Console: fakeConsole{sshd.Stats{Sessions: 2, Connections: 3}}, Version: "test"})
	reg := Registry(c, NewExports())
	problems, err := promlint.NewWithMetricFamilies(gather(t, reg)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

func value(t *testing.T, mfs []*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if want, ok := labels[lp.GetName()]; ok && want != lp.GetValue() {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
	}
	t.Fatalf("no %s%v", name, labels)
	return 0
}

func TestValuesFromStats(t *testing.T) {
	c := NewCollector(Sources{Recorder: &fakeRecorder{sampleStats()}, Console: fakeConsole{sshd.Stats{Sessions: 2, Connections: 3,
		Refusals: map[string]uint64{sshd.RefusedNotEnrolled: 7}}}})
	mfs := gather(t, Registry(c, nil))
	cam1 := map[string]string{"camera": "cam1"}
	for _, tt := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"mimamori_camera_up", cam1, 1},
		{"mimamori_camera_up", map[string]string{"camera": "cam2"}, 0},
		{"mimamori_camera_state", map[string]string{"camera": "cam2", "state": "stalled"}, 1},
		{"mimamori_camera_state", map[string]string{"camera": "cam2", "state": "recording"}, 0},
		{"mimamori_camera_state", map[string]string{"camera": "cam3", "state": "a-state-added-later"}, 1},
		{"mimamori_camera_frames_received_total", cam1, 1000},
		{"mimamori_camera_received_bytes_total", cam1, 5 << 20},
		{"mimamori_camera_received_bytes_per_second", cam1, 5e5},
		{"mimamori_camera_last_frame_age_seconds", cam1, 0.04},
		{"mimamori_camera_last_frame_age_seconds", map[string]string{"camera": "cam2"}, -1},
		{"mimamori_camera_retention_seconds", cam1, 3600},
		{"mimamori_camera_retention_target_seconds", cam1, 7 * 86400},
		{"mimamori_camera_reconnects_total", cam1, 2},
		{"mimamori_camera_oversize_units_total", cam1, 4},
		{"mimamori_ring_free_bytes", nil, 50 << 20},
		{"mimamori_ring_held_bytes", nil, 2 << 20},
		{"mimamori_ring_write_errors_total", nil, 3},
		{"mimamori_ring_erased_blocks_total", map[string]string{"reason": "retention"}, 4},
		{"mimamori_ring_erased_bytes_total", map[string]string{"reason": "retention"}, 4 << 20},
		{"mimamori_ring_erased_blocks_total", map[string]string{"reason": "overwrite"}, 0},
		{"mimamori_ring_fsync_duration_seconds", nil, 3},
		{"mimamori_ring_clock_steps_total", nil, 1},
		{"mimamori_ring_clock_offset_seconds", nil, -90},
		{"mimamori_ring_alert", map[string]string{"kind": "disk-stall", "camera": ""}, 1},
		{"mimamori_ring_alert", map[string]string{"kind": "camera-starved", "camera": "cam2"}, 1},
		{"mimamori_ring_alert", map[string]string{"kind": "disk-full", "camera": ""}, 0},
		{"mimamori_ssh_sessions", nil, 2},
		{"mimamori_ssh_connections", nil, 3},
		{"mimamori_ssh_refusals_total", map[string]string{"reason": sshd.RefusedNotEnrolled}, 7},
		{"mimamori_ssh_refusals_total", map[string]string{"reason": sshd.RefusedRate}, 0},
	} {
		if got := value(t, mfs, tt.name, tt.labels); got != tt.want {
			t.Errorf("%s%v = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
	// The histogram's buckets are cumulative and its +Inf is the count.
	for _, mf := range mfs {
		if mf.GetName() != "mimamori_ring_fsync_duration_seconds" {
			continue
		}
		h := mf.GetMetric()[0].GetHistogram()
		for _, b := range h.GetBucket() {
			want := uint64(0)
			if b.GetUpperBound() >= 0.005 { // 3 ms
				want = 1
			}
			if b.GetUpperBound() >= 0.05 {
				want = 2
			}
			if b.GetCumulativeCount() != want {
				t.Errorf("fsync bucket le=%v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
			}
		}
	}
}

// Ledger counts are exact across scrapes (only new entries are read) and
// a scrape writes nothing: the head does not move.
func TestLedgerCountsAreIncrementalAndReadOnly(t *testing.T) {
	st := newStore(t)
	sys := core.SystemActor("test")
	person := "管理 花子"
	if _, err := st.EnrollKey(sys, person, core.RoleManager,
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl test"); err != nil {
		t.Fatal(err)
	}
	c := NewCollector(Sources{Ledger: st})
	reg := Registry(c, nil)
	head := st.LedgerHead()
	mfs := gather(t, reg)
	if got := value(t, mfs, "mimamori_ledger_entries_total", map[string]string{"action": string(core.ActionKeyEnroll)}); got != 1 {
		t.Fatalf("key.enroll = %v, want 1", got)
	}
	if st.LedgerHead() != head {
		t.Fatal("a scrape wrote to the ledger")
	}
	if err := st.SyncCameras(core.SystemActor("config"), []core.Camera{{ID: "cam1", Number: "1", URL: "rtsp://h/1"}}); err != nil {
		t.Fatal(err)
	}
	mfs = gather(t, reg)
	mfs = gather(t, reg) // a scrape with nothing new changes nothing
	total := 0.0
	for _, a := range []core.Action{core.ActionKeyEnroll, core.ActionCameraSync, core.ActionCameraAdd} {
		total += value(t, mfs, "mimamori_ledger_entries_total", map[string]string{"action": string(a)})
	}
	if uint64(total) != st.LedgerHead() {
		t.Fatalf("entries counted %v, ledger head %d\n%s", total, st.LedgerHead(), text(t, mfs))
	}
	if strings.Contains(text(t, mfs), person) {
		t.Fatal("a person's name appears in the metrics")
	}
}

func TestExportsCountOutcomes(t *testing.T) {
	e := NewExports()
	ok := e.Wrap(exporterFunc(func() (core.ExportRecord, error) {
		return core.ExportRecord{Files: []core.ExportFile{{Bytes: 100}, {Bytes: 23}}}, nil
	}))
	bad := e.Wrap(exporterFunc(func() (core.ExportRecord, error) { return core.ExportRecord{}, core.ErrConflict }))
	for range 2 {
		if _, err := ok.Export(t.Context(), core.ExportJob{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	_, _ = bad.Export(t.Context(), core.ExportJob{}, nil)
	if got := testutil.ToFloat64(e.bytes); got != 246 {
		t.Errorf("export bytes %v, want 246", got)
	}
	if got := testutil.ToFloat64(e.total.WithLabelValues(OutcomeOK)); got != 2 {
		t.Errorf("ok exports %v", got)
	}
	if got := testutil.ToFloat64(e.total.WithLabelValues(OutcomeFailed)); got != 1 {
		t.Errorf("failed exports %v", got)
	}
}

type exporterFunc func() (core.ExportRecord, error)

func (f exporterFunc) Export(_ context.Context, _ core.ExportJob, _ func(done, total int64)) (core.ExportRecord, error) {
	return f()
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:9464": true, "[::1]:9464": true, "localhost:9464": true,
		":9464": false, "0.0.0.0:9464": false, "192.0.2.1:9464": false, "bogus": false,
	} {
		if got := IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v", addr, got)
		}
	}
}
