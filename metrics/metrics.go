// Package metrics exposes the appliance's health to Prometheus: cameras,
// the ring, the ledger, the SSH console and exports.
//
// It only reads. Every scrape takes the recorder's snapshot (no I/O), the
// console's counters and the ledger entries appended since the previous
// scrape (one short read transaction); it never writes and never adds a
// ledger entry. Labels carry camera ids, ledger actions and reasons only —
// never footage, names of people or request contents.
//
// Each metric is one row of a table below: exposing a new field of
// core.CameraStats, core.RingStats or sshd.Stats is one line.
package metrics

import (
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"mimamori/core"
	"mimamori/sshd"
)

// Recorder is the part of the recorder a scrape reads (core.Footage has it).
type Recorder interface {
	Stats() core.RecorderStats
}

// Ledger is the part of core a scrape reads.
type Ledger interface {
	LedgerActionCounts(after uint64, limit int) (map[core.Action]uint64, uint64, error)
}

// Console is the part of the SSH server a scrape reads.
type Console interface {
	Stats() sshd.Stats
}

// LedgerCheck reports the ledger's standing check as of its last run:
// intact or not, and whether it has run at all. It must be cheap (a
// cached result), since every scrape calls it.
type LedgerCheck func() (ok, known bool)

// Sources are what a scrape reads. A nil source's metrics are left out.
type Sources struct {
	Recorder    Recorder
	Ledger      Ledger
	LedgerCheck LedgerCheck
	Console     Console
	Version     string // mimamori_build_info{version}
}

const (
	counter = prometheus.CounterValue
	gauge   = prometheus.GaugeValue
)

// row is one metric read from a snapshot of type T.
type row[T any] struct {
	name, help string
	kind       prometheus.ValueType
	value      func(T) float64
}

// Camera metrics, labelled {camera}.
var cameraRows = []row[core.CameraStats]{
	{"mimamori_camera_up", "1 while the camera's stream is being recorded, else 0.", gauge,
		func(c core.CameraStats) float64 { return b2f(c.State == StateRecording) }},
	{"mimamori_camera_frames_received_total", "Access units received from the camera and stored.", counter,
		func(c core.CameraStats) float64 { return float64(c.FramesReceived) }},
	{"mimamori_camera_received_bytes_total", "Bytes of those access units, as the camera sent them.", counter,
		func(c core.CameraStats) float64 { return float64(c.BytesReceived) }},
	{"mimamori_camera_frames_per_second", "Frame rate over the last few seconds.", gauge,
		func(c core.CameraStats) float64 { return c.FPS }},
	{"mimamori_camera_received_bytes_per_second", "Stream bitrate over the last few seconds, in bytes per second (×8 for bits).", gauge,
		func(c core.CameraStats) float64 { return c.BitrateBps / 8 }},
	{"mimamori_camera_reconnects_total", "Reconnections to the camera.", counter,
		func(c core.CameraStats) float64 { return float64(c.Reconnects) }},
	{"mimamori_camera_discontinuities_total", "Timestamp discontinuities in the stream (re-anchored timeline).", counter,
		func(c core.CameraStats) float64 { return float64(c.Discontinuities) }},
	{"mimamori_camera_dropped_frames_total", "Access units dropped (undecodable, before the first keyframe, or rejected).", counter,
		func(c core.CameraStats) float64 { return float64(c.DroppedFrames) }},
	{"mimamori_camera_packets_lost_total", "RTP packets missing from the sequence.", counter,
		func(c core.CameraStats) float64 { return float64(c.PacketsLost) }},
	{"mimamori_camera_invalid_payloads_total", "Payloads or access units that do not parse.", counter,
		func(c core.CameraStats) float64 { return float64(c.InvalidPayloads) }},
	{"mimamori_camera_oversize_units_total", "NAL or access units over the size limit, dropped.", counter,
		func(c core.CameraStats) float64 { return float64(c.OversizeUnits) }},
	{"mimamori_camera_missing_params_total", "Access units dropped for want of parameter sets (SPS/PPS/VPS).", counter,
		func(c core.CameraStats) float64 { return float64(c.MissingParams) }},
	{"mimamori_camera_ssrc_changes_total", "RTP source (SSRC) restarts.", counter,
		func(c core.CameraStats) float64 { return float64(c.SSRCChanges) }},
	{"mimamori_camera_clock_jumps_total", "Wall-clock steps noticed while recording this camera.", counter,
		func(c core.CameraStats) float64 { return float64(c.ClockJumps) }},
	{"mimamori_camera_last_frame_timestamp_seconds", "Wall-clock time of the last stored frame (Unix seconds; 0 before the first).", gauge,
		func(c core.CameraStats) float64 { return unixSeconds(c.LastFrame) }},
	{"mimamori_camera_last_frame_age_seconds", "Seconds since the last stored frame, on the appliance's monotonic clock (-1 before the first).", gauge,
		func(c core.CameraStats) float64 { return age(c) }},
	{"mimamori_camera_retention_seconds", "Age of the oldest footage of the camera still on disk.", gauge,
		func(c core.CameraStats) float64 { return c.AchievedRetain.Seconds() }},
	{"mimamori_camera_retention_target_seconds", "Retention the policy asks for.", gauge,
		func(c core.CameraStats) float64 { return c.TargetRetain.Seconds() }},
	{"mimamori_camera_stored_bytes", "Bytes of the camera's footage in the ring.", gauge,
		func(c core.CameraStats) float64 { return float64(c.BytesStored) }},
}

// Ring metrics, no labels.
var ringRows = []row[core.RingStats]{
	{"mimamori_ring_capacity_bytes", "Size of the overwrite ring (storage.capacity).", gauge,
		func(r core.RingStats) float64 { return float64(r.CapacityBytes) }},
	{"mimamori_ring_used_bytes", "Bytes of footage in the ring.", gauge,
		func(r core.RingStats) float64 { return float64(r.UsedBytes) }},
	{"mimamori_ring_free_bytes", "Bytes of free (erased) ring blocks.", gauge,
		func(r core.RingStats) float64 { return float64(int64(r.FreeBlocks) * r.BlockSize) }},
	{"mimamori_ring_held_bytes", "Bytes pinned by holds.", gauge,
		func(r core.RingStats) float64 { return float64(r.HeldBytes) }},
	{"mimamori_ring_hold_limit_bytes", "Most bytes holds may pin (storage.hold_share of capacity).", gauge,
		func(r core.RingStats) float64 { return float64(r.HoldLimitBytes) }},
	{"mimamori_ring_blocks", "Blocks in the ring.", gauge,
		func(r core.RingStats) float64 { return float64(r.Blocks) }},
	{"mimamori_ring_free_blocks", "Free (erased) blocks.", gauge,
		func(r core.RingStats) float64 { return float64(r.FreeBlocks) }},
	{"mimamori_ring_write_bytes_per_second", "Write rate into the ring over the last sync interval.", gauge,
		func(r core.RingStats) float64 { return r.WriteBytesPerS }},
	{"mimamori_ring_appended_bytes_total", "Record bytes appended to the ring (footage plus headers).", counter,
		func(r core.RingStats) float64 { return float64(r.AppendedBytes) }},
	{"mimamori_ring_clock_steps_total", "Wall-clock steps the ring noticed (retention and holds follow ring time, not the step).", counter,
		func(r core.RingStats) float64 { return float64(r.ClockSteps) }},
	{"mimamori_ring_clock_offset_seconds", "How far the wall clock is from the ring's trusted time (positive: wall ahead).", gauge,
		func(r core.RingStats) float64 { return r.ClockOffset.Seconds() }},
	{"mimamori_ring_damaged_fragments", "Damaged fragments still in the ring (skipped in playback and exports).", gauge,
		func(r core.RingStats) float64 { return float64(r.DamagedFragments) }},
	{"mimamori_ring_write_errors_total", "Failed writes, syncs or index commits of the ring.", counter,
		func(r core.RingStats) float64 { return float64(r.WriteErrors) }},
	{"mimamori_disk_free_bytes", "Free space on the file system holding the ring.", gauge,
		func(r core.RingStats) float64 { return float64(r.DiskFreeBytes) }},
}

// Console metrics, no labels.
var consoleRows = []row[sshd.Stats]{
	{"mimamori_ssh_sessions", "Open SSH sessions.", gauge,
		func(s sshd.Stats) float64 { return float64(s.Sessions) }},
	{"mimamori_ssh_connections", "Open TCP connections to the console, authenticated or not.", gauge,
		func(s sshd.Stats) float64 { return float64(s.Connections) }},
	{"mimamori_ssh_unauthenticated_connections", "Open console connections that have not authenticated yet.", gauge,
		func(s sshd.Stats) float64 { return float64(s.Unauthenticated) }},
	{"mimamori_ssh_channels", "Open SSH channels (sessions with or without a command, forwards).", gauge,
		func(s sshd.Stats) float64 { return float64(s.Channels) }},
}

// Camera states as the recorder reports them; each camera exports one
// mimamori_camera_state series per state (1 for the current one).
const StateRecording = "recording"

var cameraStates = []string{"connecting", StateRecording, "stream-invalid", "stalled", "error", "stopped"}

var (
	descState = prometheus.NewDesc("mimamori_camera_state",
		"1 for the camera's current ingest state, 0 for the others.", []string{"camera", "state"}, nil)
	descErasedBlocks = prometheus.NewDesc("mimamori_ring_erased_blocks_total",
		"Ring blocks erased (zeroed, synced and ledgered), by reason: retention or overwrite.", []string{"reason"}, nil)
	descErasedBytes = prometheus.NewDesc("mimamori_ring_erased_bytes_total",
		"Bytes of footage those erased blocks held, by reason.", []string{"reason"}, nil)
	descFsync = prometheus.NewDesc("mimamori_ring_fsync_duration_seconds",
		"Latency of each fdatasync of the ring.", nil, nil)
	descLedger = prometheus.NewDesc("mimamori_ledger_entries_total",
		"Ledger entries, by action.", []string{"action"}, nil)
	descLedgerErr = prometheus.NewDesc("mimamori_ledger_read_errors_total",
		"Scrapes that could not read the ledger's new entries.", nil, nil)
	descLedgerOK = prometheus.NewDesc("mimamori_ledger_check_ok",
		"1 if the ledger's hash chain verified at its last standing check, 0 if it is broken.", nil, nil)
	descRefusals = prometheus.NewDesc("mimamori_ssh_refusals_total",
		"Connections, keys and sessions the console refused, by reason.", []string{"reason"}, nil)
	descRingAlert = prometheus.NewDesc("mimamori_ring_alert",
		"1 while the ring raises a storage alert of this kind (camera set for per-camera kinds), 0 for known kinds not raised.",
		[]string{"kind", "camera"}, nil)
	descBuild = prometheus.NewDesc("mimamori_build_info",
		"Always 1; the version label names the running release.", []string{"version"}, nil)
)

// ringAlertKinds are the ring's appliance-wide alert kinds, exported as 0
// while not raised; per-camera kinds (camera-starved) appear when raised,
// and so does a kind added to the ring after this list.
var ringAlertKinds = []string{"disk-full", "write-errors", "disk-stall", "clock-step",
	"damaged-footage", "holds-over-share", "copy-on-write-fs"}

// erasureReasons are always exported (0 until the first erasure).
var erasureReasons = []string{"retention", "overwrite"}

// Collector is a prometheus.Collector over Sources.
type Collector struct {
	src Sources

	descs struct {
		camera, ring, console []*prometheus.Desc
	}

	// Ledger totals: the ledger is append-only, so each scrape adds the
	// entries after seq and the totals stay exact across scrapes.
	mu        sync.Mutex
	seq       uint64
	byAction  map[core.Action]uint64
	ledgerErr uint64
}

// NewCollector returns a collector over src.
func NewCollector(src Sources) *Collector {
	c := &Collector{src: src, byAction: map[core.Action]uint64{}}
	for _, a := range core.AllActions() {
		c.byAction[a] = 0
	}
	c.descs.camera = descsOf(cameraRows, "camera")
	c.descs.ring = descsOf(ringRows)
	c.descs.console = descsOf(consoleRows)
	return c
}

func descsOf[T any](rows []row[T], labels ...string) []*prometheus.Desc {
	out := make([]*prometheus.Desc, len(rows))
	for i, r := range rows {
		out[i] = prometheus.NewDesc(r.name, r.help, labels, nil)
	}
	return out
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, set := range [][]*prometheus.Desc{c.descs.camera, c.descs.ring, c.descs.console} {
		for _, d := range set {
			ch <- d
		}
	}
	for _, d := range []*prometheus.Desc{descState, descErasedBlocks, descErasedBytes, descFsync, descLedger, descLedgerErr, descLedgerOK, descRefusals, descRingAlert, descBuild} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(descBuild, gauge, 1, c.src.Version)
	if c.src.Recorder != nil {
		c.collectRecorder(ch, c.src.Recorder.Stats())
	}
	if c.src.Console != nil {
		st := c.src.Console.Stats()
		for i, r := range consoleRows {
			ch <- prometheus.MustNewConstMetric(c.descs.console[i], r.kind, r.value(st))
		}
		for _, reason := range sortedKeys(st.Refusals, sshd.RefusalReasons()) {
			ch <- prometheus.MustNewConstMetric(descRefusals, counter, float64(st.Refusals[reason]), reason)
		}
	}
	if c.src.Ledger != nil {
		c.collectLedger(ch)
	}
	if c.src.LedgerCheck != nil {
		if ok, known := c.src.LedgerCheck(); known {
			ch <- prometheus.MustNewConstMetric(descLedgerOK, gauge, b2f(ok))
		}
	}
}

func (c *Collector) collectRecorder(ch chan<- prometheus.Metric, st core.RecorderStats) {
	for _, cam := range st.Cameras {
		for i, r := range cameraRows {
			ch <- prometheus.MustNewConstMetric(c.descs.camera[i], r.kind, r.value(cam), cam.Camera)
		}
		known := false
		for _, s := range cameraStates {
			known = known || s == cam.State
			ch <- prometheus.MustNewConstMetric(descState, gauge, b2f(s == cam.State), cam.Camera, s)
		}
		if !known && cam.State != "" {
			// A state added to the recorder after this list: still shown.
			ch <- prometheus.MustNewConstMetric(descState, gauge, 1, cam.Camera, cam.State)
		}
	}
	for i, r := range ringRows {
		ch <- prometheus.MustNewConstMetric(c.descs.ring[i], r.kind, r.value(st.Ring))
	}
	for _, reason := range sortedKeys(st.Ring.Erased, erasureReasons) {
		e := st.Ring.Erased[reason]
		ch <- prometheus.MustNewConstMetric(descErasedBlocks, counter, float64(e.Blocks), reason)
		ch <- prometheus.MustNewConstMetric(descErasedBytes, counter, float64(e.Bytes), reason)
	}
	raised := map[[2]string]bool{}
	for _, a := range st.Ring.Alerts {
		k := [2]string{a.Kind, a.Camera}
		if !raised[k] {
			raised[k] = true
			ch <- prometheus.MustNewConstMetric(descRingAlert, gauge, 1, a.Kind, a.Camera)
		}
	}
	for _, kind := range ringAlertKinds {
		if !raised[[2]string{kind, ""}] {
			ch <- prometheus.MustNewConstMetric(descRingAlert, gauge, 0, kind, "")
		}
	}
	if h := st.Ring.FsyncSeconds; len(h.Counts) == len(h.Bounds)+1 {
		buckets := make(map[float64]uint64, len(h.Bounds))
		var cum uint64
		for i, b := range h.Bounds {
			cum += h.Counts[i]
			buckets[b] = cum
		}
		ch <- prometheus.MustNewConstHistogram(descFsync, h.Count(), h.Sum, buckets)
	}
}

// ledgerPage bounds one read transaction; ledgerPages bounds one scrape
// (the first scrape of a large ledger catches up over a few scrapes).
const (
	ledgerPage  = 20000
	ledgerPages = 50
)

func (c *Collector) collectLedger(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for range ledgerPages {
		counts, last, err := c.src.Ledger.LedgerActionCounts(c.seq, ledgerPage)
		if err != nil {
			c.ledgerErr++
			break
		}
		for a, n := range counts {
			c.byAction[a] += n
		}
		if last == c.seq {
			break
		}
		c.seq = last
	}
	for a, n := range c.byAction {
		ch <- prometheus.MustNewConstMetric(descLedger, counter, float64(n), string(a))
	}
	ch <- prometheus.MustNewConstMetric(descLedgerErr, counter, float64(c.ledgerErr))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

// age is the time since the camera's last frame, -1 before the first.
func age(c core.CameraStats) float64 {
	if c.LastFrame.IsZero() {
		return -1
	}
	return c.SinceLastFrame.Seconds()
}

// sortedKeys returns m's keys plus always, deduplicated and sorted.
func sortedKeys[V any](m map[string]V, always []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, k := range always {
		if !seen[k] {
			seen[k], out = true, append(out, k)
		}
	}
	for k := range m {
		if !seen[k] {
			seen[k], out = true, append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
