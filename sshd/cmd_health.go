package sshd

import (
	"fmt"
	"strconv"

	"mimamori/core"
)

type ringJSON struct {
	CapacityBytes   int64   `json:"capacity_bytes"`
	UsedBytes       int64   `json:"used_bytes"`
	HeldBytes       int64   `json:"held_bytes"`
	HoldLimitBytes  int64   `json:"hold_limit_bytes"`
	BlockSize       int64   `json:"block_size"`
	Blocks          int     `json:"blocks"`
	FreeBlocks      int     `json:"free_blocks"`
	WriteBytesPerS  float64 `json:"write_bytes_per_second"`
	AppendedBytes   int64   `json:"appended_bytes"`
	FsyncP50Seconds float64 `json:"fsync_p50_seconds"`
	FsyncMaxSeconds float64 `json:"fsync_max_seconds"`
	WriteErrors     uint64  `json:"write_errors"`
	LastWriteError  string  `json:"last_write_error,omitempty"`
	DiskFreeBytes   int64   `json:"disk_free_bytes"`

	ClockSteps         uint64          `json:"clock_steps"`
	LastClockStep      string          `json:"last_clock_step,omitempty"`
	LastClockStepSecs  float64         `json:"last_clock_step_seconds,omitempty"`
	ClockOffsetSeconds float64         `json:"clock_offset_seconds"`
	DamagedFragments   uint64          `json:"damaged_fragments"`
	Damaged            []spanJSON      `json:"damaged"`
	Alerts             []ringAlertJSON `json:"alerts"`
}

// ringAlertJSON is one storage alert a technician must act on.
type ringAlertJSON struct {
	Kind   string `json:"kind"`
	Camera string `json:"camera,omitempty"`
	Since  string `json:"since,omitempty"`
	Detail string `json:"detail"`
}

type cameraHealthJSON struct {
	Camera          string  `json:"camera"`
	Connected       bool    `json:"connected"`
	State           string  `json:"state"`
	Codec           string  `json:"codec,omitempty"`
	Width           int     `json:"width,omitempty"`
	Height          int     `json:"height,omitempty"`
	FPS             float64 `json:"fps"`
	BitrateBps      float64 `json:"bitrate_bps"`
	LastFrame       string  `json:"last_frame,omitempty"`
	Reconnects      uint64  `json:"reconnects"`
	LastError       string  `json:"last_error,omitempty"`
	Oldest          string  `json:"oldest,omitempty"`
	AchievedSeconds float64 `json:"achieved_retention_seconds"`
	TargetSeconds   float64 `json:"target_retention_seconds"`
	ClockJumps      uint64  `json:"clock_jumps"`
	Discontinuities uint64  `json:"discontinuities"`
	DroppedFrames   uint64  `json:"dropped_frames"`
	BytesStored     int64   `json:"bytes_stored"`
	PacketsLost     uint64  `json:"packets_lost"`
	InvalidPayloads uint64  `json:"invalid_payloads"`
	OversizeUnits   uint64  `json:"oversize_units"`
	MissingParams   uint64  `json:"missing_parameter_sets"`
	SSRCChanges     uint64  `json:"ssrc_changes"`
}

type healthJSON struct {
	Ring    ringJSON           `json:"ring"`
	Cameras []cameraHealthJSON `json:"cameras"`
	// Warnings: what the regulation expects that the records lack (a city
	// camera with no sign or police consultation, an overdue inspection…).
	Warnings []warningJSON `json:"warnings"`
}

func healthToJSON(st core.RecorderStats) healthJSON {
	r := st.Ring
	out := healthJSON{Ring: ringJSON{
		CapacityBytes: r.CapacityBytes, UsedBytes: r.UsedBytes, HeldBytes: r.HeldBytes,
		HoldLimitBytes: r.HoldLimitBytes, BlockSize: r.BlockSize, Blocks: r.Blocks, FreeBlocks: r.FreeBlocks,
		WriteBytesPerS: r.WriteBytesPerS, AppendedBytes: r.AppendedBytes, FsyncP50Seconds: r.FsyncLatencyP50.Seconds(),
		FsyncMaxSeconds: r.FsyncLatencyMax.Seconds(), WriteErrors: r.WriteErrors,
		LastWriteError: r.LastWriteError, DiskFreeBytes: r.DiskFreeBytes,
		ClockSteps: r.ClockSteps, LastClockStep: jsonTime(r.LastClockStep), LastClockStepSecs: r.LastClockStepBy.Seconds(),
		ClockOffsetSeconds: r.ClockOffset.Seconds(), DamagedFragments: r.DamagedFragments,
		Damaged: []spanJSON{}, Alerts: []ringAlertJSON{},
	}, Cameras: []cameraHealthJSON{}}
	for _, d := range r.Damaged {
		out.Ring.Damaged = append(out.Ring.Damaged, spanJSON{Camera: d.Camera, Start: jsonTime(d.Start), End: jsonTime(d.End),
			Secs: d.End.Sub(d.Start).Seconds(), Damaged: true})
	}
	for _, a := range r.Alerts {
		out.Ring.Alerts = append(out.Ring.Alerts, ringAlertJSON{Kind: a.Kind, Camera: a.Camera, Since: jsonTime(a.Since), Detail: a.Detail})
	}
	for _, c := range st.Cameras {
		out.Cameras = append(out.Cameras, cameraHealthJSON{
			Camera: c.Camera, Connected: c.Connected, State: c.State, Codec: c.Codec, Width: c.Width,
			Height: c.Height, FPS: c.FPS, BitrateBps: c.BitrateBps, LastFrame: jsonTime(c.LastFrame),
			Reconnects: c.Reconnects, LastError: c.LastError, Oldest: jsonTime(c.Oldest),
			AchievedSeconds: c.AchievedRetain.Seconds(), TargetSeconds: c.TargetRetain.Seconds(),
			ClockJumps: c.ClockJumps, Discontinuities: c.Discontinuities, DroppedFrames: c.DroppedFrames,
			BytesStored: c.BytesStored, PacketsLost: c.PacketsLost, InvalidPayloads: c.InvalidPayloads,
			OversizeUnits: c.OversizeUnits, MissingParams: c.MissingParams, SSRCChanges: c.SSRCChanges,
		})
	}
	return out
}

func pct(part, whole int64) string {
	if whole <= 0 {
		return "-"
	}
	return strconv.FormatFloat(100*float64(part)/float64(whole), 'f', 1, 64) + "%"
}

func runHealth(env *Env, args []string) int {
	f := NewFlags()
	asJSON := f.Bool("json")
	if pos, err := f.Parse(args); err != nil || len(pos) > 0 {
		return env.UsageError("health", errText(err, pos))
	}
	st, err := env.Core.Health(env.Actor)
	if err != nil {
		return env.Fail(core.ActionHealthRead, err)
	}
	warnings, err := env.Core.ComplianceWarnings(env.Actor)
	if err != nil {
		return env.Fail(core.ActionHealthRead, err)
	}
	if *asJSON {
		h := healthToJSON(st)
		h.Warnings = toWarningsJSON(env, warnings)
		return env.JSON(h)
	}
	defer printWarnings(env, warnings)
	r := st.Ring
	t := newTable()
	t.row(env.T("capacity", "容量"), humanBytes(r.CapacityBytes))
	t.row(env.T("used", "使用"), humanBytes(r.UsedBytes)+" ("+pct(r.UsedBytes, r.CapacityBytes)+")")
	t.row(env.T("held", "保全"), humanBytes(r.HeldBytes)+" / "+humanBytes(r.HoldLimitBytes))
	t.row(env.T("free blocks", "空きブロック"), fmt.Sprintf("%d / %d", r.FreeBlocks, r.Blocks))
	t.row(env.T("disk free", "ディスク空き"), humanBytes(r.DiskFreeBytes))
	t.row(env.T("write rate", "書込速度"), humanBytes(int64(r.WriteBytesPerS))+"/s")
	t.row(env.T("fsync p50/max", "fsync 中央値/最大"), r.FsyncLatencyP50.String()+" / "+r.FsyncLatencyMax.String())
	we := strconv.FormatUint(r.WriteErrors, 10)
	if r.LastWriteError != "" {
		we += " (" + clean(r.LastWriteError) + ")"
	}
	t.row(env.T("write errors", "書込エラー"), we)
	if r.ClockSteps > 0 {
		t.row(env.T("clock steps", "時計の飛び"), fmt.Sprintf("%d (%s %s)", r.ClockSteps, env.T("last", "最終"), r.LastClockStepBy))
	}
	if r.DamagedFragments > 0 {
		t.row(env.T("damaged", "破損"), fmt.Sprintf("%d %s", r.DamagedFragments, env.T("fragments", "断片")))
	}
	t.write(env.Stdout)
	if len(r.Alerts) > 0 {
		fmt.Fprintln(env.Stdout)
		for _, a := range r.Alerts {
			who := ""
			if a.Camera != "" {
				who = " " + clean(a.Camera)
			}
			fmt.Fprintf(env.Stdout, "%s %s%s: %s (%s %s)\n", env.T("ALERT", "警告"), alertLabel(env, a.Kind), who,
				clean(a.Detail), env.T("since", "発生"), env.Time(a.Since))
		}
	}
	if len(st.Cameras) == 0 {
		return ExitOK
	}
	fmt.Fprintln(env.Stdout)
	ct := newTable()
	ct.row(env.T("CAMERA", "カメラ"), env.T("STATE", "状態"), env.T("CODEC", "方式"), env.T("SIZE", "解像度"),
		"FPS", env.T("BITRATE", "ビットレート"), env.T("LAST FRAME", "最終フレーム"),
		env.T("RETAINED", "保存期間"), env.T("TARGET", "目標"), env.T("RECONN", "再接続"),
		env.T("CLOCK", "時刻跳躍"), env.T("GAPS", "不連続"), env.T("DROPPED", "欠落"),
		env.T("LOST PKTS", "パケット損失"), env.T("BAD INPUT", "不正入力"))
	for _, c := range st.Cameras {
		size := "-"
		if c.Width > 0 {
			size = fmt.Sprintf("%dx%d", c.Width, c.Height)
		}
		ct.row(clean(c.Camera), codeLabel(env, "ingest-state", c.State), dash(c.Codec), size, strconv.FormatFloat(c.FPS, 'f', 1, 64),
			humanBytes(int64(c.BitrateBps/8))+"/s", env.Time(c.LastFrame),
			humanDuration(c.AchievedRetain), humanDuration(c.TargetRetain),
			strconv.FormatUint(c.Reconnects, 10), strconv.FormatUint(c.ClockJumps, 10),
			strconv.FormatUint(c.Discontinuities, 10), strconv.FormatUint(c.DroppedFrames, 10),
			strconv.FormatUint(c.PacketsLost, 10),
			// Payloads that do not parse, oversize units, missing parameter sets, source restarts
			// (each on its own in --json).
			strconv.FormatUint(c.InvalidPayloads+c.OversizeUnits+c.MissingParams+c.SSRCChanges, 10))
	}
	ct.write(env.Stdout)
	for _, c := range st.Cameras {
		if c.LastError != "" {
			fmt.Fprintf(env.Stdout, "%s: %s\n", clean(c.Camera), clean(c.LastError))
		}
	}
	return ExitOK
}

// alertLabel names a storage alert in the session's language.
func alertLabel(env *Env, kind string) string {
	switch kind {
	case "disk-full":
		return env.T("disk full", "ディスク容量不足")
	case "write-errors":
		return env.T("write errors", "書込エラー")
	case "camera-starved":
		return env.T("camera has no block", "カメラの記録領域なし")
	case "disk-stall":
		return env.T("disk stalled", "ディスク応答なし")
	case "clock-step":
		return env.T("clock stepped", "時計の飛び")
	case "damaged-footage":
		return env.T("damaged footage", "映像の破損")
	case "holds-over-share":
		return env.T("holds over their share", "保全が上限超過")
	case "copy-on-write-fs":
		return env.T("copy-on-write file system", "コピーオンライト方式のファイルシステム")
	}
	return clean(kind)
}
