package sshd

import (
	"fmt"

	"mimamori/core"
)

// Maintenance, removal (001 §8) and media disposal (001 §5-4). Core
// decides who may: technicians and the manager record maintenance work,
// only the manager records a disposal.

const maintenanceUsage = "add --kind inspection|replacement|camera-removal|sign-removal|sign-posted --performer P [--camera C] [--date T] [--notes N] | " +
	"add --kind disposal --media M --method HOW --performer P [--date T] [--notes N] | list   (each takes --json)"

type maintenanceJSON struct {
	ID        string `json:"id"`
	Kind      string `json:"kind"`
	Camera    string `json:"camera,omitempty"`
	Date      string `json:"date"`
	Performer string `json:"performer"`
	Notes     string `json:"notes,omitempty"`
	Media     string `json:"media,omitempty"`
	Method    string `json:"method,omitempty"`
	CreatedBy string `json:"created_by"`
	CreatedAt string `json:"created_at"`
}

func toMaintenanceJSON(m core.MaintenanceRecord) maintenanceJSON {
	return maintenanceJSON{ID: m.ID, Kind: m.Kind, Camera: m.Camera, Date: jsonTime(m.Date), Performer: m.Performer,
		Notes: m.Notes, Media: m.Media, Method: m.Method, CreatedBy: m.CreatedBy, CreatedAt: jsonTime(m.CreatedAt)}
}

func runMaintenance(env *Env, args []string) int {
	if len(args) == 0 {
		return env.UsageError("maintenance", "missing subcommand")
	}
	switch args[0] {
	case "add":
		return runMaintenanceAdd(env, args[1:])
	case "list":
		return runMaintenanceList(env, args[1:])
	}
	return env.UsageError("maintenance", fmt.Sprintf("unknown subcommand %q", args[0]))
}

func maintKindLabel(env *Env, k string) string { return codeLabel(env, "maintenance", k) }

func runMaintenanceAdd(env *Env, args []string) int {
	f := NewFlags()
	asJSON := f.Bool("json")
	kind, cam, dateS, performer, notes := f.String("kind"), f.String("camera"), f.String("date"), f.String("performer"), f.String("notes")
	media, method := f.String("media"), f.String("method")
	if pos, err := f.Parse(args); err != nil || len(pos) > 0 {
		return env.UsageError("maintenance", errText(err, pos))
	}
	if !f.IsSet("kind") {
		return env.UsageError("maintenance", "maintenance add: --kind is required (inspection, replacement, camera-removal, sign-removal, sign-posted, disposal)")
	}
	if !f.IsSet("performer") {
		return env.UsageError("maintenance", "maintenance add: --performer is required")
	}
	var rec core.MaintenanceRecord
	var err error
	if *kind == core.MaintDisposal {
		if f.IsSet("camera") {
			return env.UsageError("maintenance", "maintenance add --kind disposal: --camera does not apply (name the medium with --media)")
		}
		for _, req := range []string{"media", "method"} {
			if !f.IsSet(req) {
				return env.UsageError("maintenance", "maintenance add --kind disposal: --"+req+" is required")
			}
		}
		in := core.DisposalInput{Media: *media, Method: *method, Performer: *performer, Notes: *notes}
		if f.IsSet("date") {
			if in.Date, err = ParseTime("date", *dateS); err != nil {
				return env.UsageError("maintenance", err.Error())
			}
		}
		rec, err = env.Core.RecordDisposal(env.Actor, in)
		if err != nil {
			return failField(env, core.ActionDisposal, err)
		}
	} else {
		if f.IsSet("media") || f.IsSet("method") {
			return env.UsageError("maintenance", "maintenance add: --media and --method are for --kind disposal")
		}
		in := core.MaintenanceInput{Kind: *kind, Camera: *cam, Performer: *performer, Notes: *notes}
		if f.IsSet("date") {
			if in.Date, err = ParseTime("date", *dateS); err != nil {
				return env.UsageError("maintenance", err.Error())
			}
		}
		rec, err = env.Core.RecordMaintenance(env.Actor, in)
		if err != nil {
			return failField(env, core.ActionMaintenance, err)
		}
	}
	if *asJSON {
		return env.JSON(toMaintenanceJSON(rec))
	}
	fmt.Fprintln(env.Stdout, rec.ID)
	return ExitOK
}

func runMaintenanceList(env *Env, args []string) int {
	f := NewFlags()
	asJSON := f.Bool("json")
	if pos, err := f.Parse(args); err != nil || len(pos) > 0 {
		return env.UsageError("maintenance", errText(err, pos))
	}
	ms, err := env.Core.MaintenanceRecords(env.Actor)
	if err != nil {
		return failField(env, core.ActionMaintenanceRead, err)
	}
	if *asJSON {
		out := make([]maintenanceJSON, 0, len(ms))
		for _, m := range ms {
			out = append(out, toMaintenanceJSON(m))
		}
		return env.JSON(out)
	}
	if len(ms) == 0 {
		fmt.Fprintln(env.Stdout, env.T("no maintenance records", "保守の記録はありません"))
		return ExitOK
	}
	t := newTable()
	t.row("ID", env.T("KIND", "種別"), env.T("DATE", "実施日"), env.T("CAMERA", "カメラ"), env.T("PERFORMER", "実施者"),
		env.T("MEDIA", "媒体"), env.T("METHOD", "方法"), env.T("NOTES", "備考"), env.T("BY", "記録者"))
	for _, m := range ms {
		t.row(clean(m.ID), maintKindLabel(env, m.Kind), env.Time(m.Date), dash(m.Camera), dash(m.Performer),
			dash(m.Media), dash(m.Method), dash(truncate(m.Notes, 40)), dash(m.CreatedBy))
	}
	t.write(env.Stdout)
	return ExitOK
}
