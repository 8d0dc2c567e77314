package sshd

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"mimamori/core"
)

// channelProbeInterval is how often a waiting view command checks that
// its session channel is still open (the connection may outlive it).
const channelProbeInterval = 2 * time.Second

// ViewCommand is "view": it mints a playback token bound to this SSH
// session and prints the URL to open through ssh -L. The token lives as
// long as the session, so the command waits until the session ends, the
// token expires or the user presses Ctrl-C. EnableViewing registers it.
func ViewCommand(pb Playback) Command {
	return Command{
		Name:      "view",
		Usage:     "CAMERA (--from T --to T (--request ID | --reason R) | --live) [--local-port N] [--json]",
		Summary:   "watch a recorded range or live through ssh -L (keeps the session open)",
		SummaryJa: "録画・ライブを ssh -L 経由で閲覧（セッションを開いたまま）",
		Run:       func(env *Env, args []string) int { return runView(env, pb, args) },
		Access:    access(core.ActionView, nil),
	}
}

type viewFileJSON struct {
	URL   string `json:"url"`
	Start string `json:"start,omitempty"`
	End   string `json:"end,omitempty"`
	Bytes int64  `json:"bytes,omitempty"`
}

type viewJSON struct {
	URL        string         `json:"url"`
	Files      []viewFileJSON `json:"files"`
	Camera     string         `json:"camera"`
	Live       bool           `json:"live"`
	From       string         `json:"from,omitempty"`
	To         string         `json:"to,omitempty"`
	Token      string         `json:"token"`
	Expires    string         `json:"expires"`
	Port       int            `json:"port"`       // the appliance-side port to forward to
	LocalPort  int            `json:"local_port"` // the port the URLs use on the viewer's machine
	Forward    string         `json:"forward"`    // the ssh -L argument
	SSHCommand string         `json:"ssh_command"`
	Session    string         `json:"session"`
	Request    string         `json:"request,omitempty"`
	Reason     string         `json:"reason,omitempty"`
}

func runView(env *Env, pb Playback, args []string) int {
	f := NewFlags()
	asJSON, live := f.Bool("json"), f.Bool("live")
	fromS, toS, lportS := f.String("from"), f.String("to"), f.String("local-port")
	reqID, reason := f.String("request"), f.String("reason")
	pos, err := f.Parse(args)
	switch {
	case err != nil:
	case len(pos) != 1:
		err = errors.New("exactly one CAMERA is required")
	case *live && (*fromS != "" || *toS != ""):
		err = errors.New("--live cannot be combined with --from/--to")
	case !*live && (*fromS == "" || *toS == ""):
		err = errors.New("--from and --to (or --live) are required")
	}
	if err != nil {
		return env.UsageError("view", err.Error())
	}
	camera := pos[0]
	var from, to time.Time
	if !*live {
		if from, err = ParseTime("from", *fromS); err != nil {
			return env.UsageError("view", err.Error())
		}
		if to, err = ParseTime("to", *toS); err != nil {
			return env.UsageError("view", err.Error())
		}
		if !to.After(from) {
			return env.UsageError("view", "--to must be after --from")
		}
	}
	localPort := pb.Port()
	if *lportS != "" {
		n, err := strconv.Atoi(*lportS)
		if err != nil || n < 1 || n > 65535 {
			return env.UsageError("view", "--local-port must be a port number")
		}
		localPort = n
	}
	if env.Session == nil || env.SessionID == "" {
		fmt.Fprintln(env.Stderr, env.T("error: view works only in an SSH session", "エラー: view は SSH セッション内でのみ使えます"))
		return ExitError
	}

	g := core.ViewGrant{Actor: env.Actor, SessionID: env.SessionID, Origin: env.Session.Context().SessionID(),
		View: core.ViewInput{Camera: camera, From: from, To: to, Live: *live, Request: *reqID, Reason: *reason}}
	if k, err := env.Core.LookupKey(env.Actor.Fingerprint); err == nil && !k.ExpiresAt.IsZero() {
		g.Expires = k.ExpiresAt // a viewer's link ends with the grant
	}
	tk, err := pb.Mint(g)
	switch {
	case errors.Is(err, core.ErrNoFootage):
		fmt.Fprintln(env.Stderr, env.T("error: nothing playable is recorded in that range", "エラー: その範囲に再生できる録画がありません"))
		return ExitError
	case errors.Is(err, core.ErrNoLive):
		fmt.Fprintln(env.Stderr, env.T("error: live view is not available on this appliance", "エラー: この装置ではライブ閲覧できません"))
		return ExitError
	case err != nil:
		code := env.Fail(core.ActionView, err)
		var why *core.ViewRefusal
		if errors.As(err, &why) {
			fmt.Fprintf(env.Stderr, "  %s\n", clean(why.Reason))
		}
		return code
	}
	// However the command ends, the token ends with it: the session is over.
	defer pb.EndSession(env.SessionID)
	defer pb.Revoke(tk.Token)

	base := "http://127.0.0.1:" + strconv.Itoa(localPort)
	fwd := ForwardArg(localPort, pb.Addr())
	sshCmd := ForwardLine(env.Session, localPort, pb.Addr(), viewArgs(camera, *live, *fromS, *toS, *reqID, *reason))
	out := viewJSON{Camera: camera, Live: *live, Token: tk.Token, Expires: jsonTime(tk.Expires), Port: pb.Port(),
		LocalPort: localPort, Forward: fwd, SSHCommand: sshCmd, Session: env.SessionID, Request: *reqID, Reason: *reason}
	if !*live {
		out.From, out.To = jsonTime(from), jsonTime(to)
	}
	for _, fl := range tk.Files {
		out.Files = append(out.Files, viewFileJSON{URL: base + fl.Path, Start: jsonTime(fl.Start), End: jsonTime(fl.End), Bytes: fl.Size})
	}
	out.URL = out.Files[0].URL
	if *asJSON {
		if code := env.JSON(out); code != ExitOK {
			return code
		}
	} else {
		printView(env, out, tk)
	}

	// Keep the session (and with it the token) until it ends.
	probe := time.NewTicker(channelProbeInterval)
	defer probe.Stop()
	done := pb.Done(tk.Token)
	for {
		select {
		case <-env.Ctx.Done():
			return ExitOK
		case <-done:
			if !*asJSON {
				fmt.Fprintln(env.Stdout, env.T("The link has expired.", "リンクの有効期限が切れました。"))
			}
			return ExitOK
		case <-probe.C:
			// The connection may carry other channels; this session's own
			// channel closing is its end (logout).
			if _, err := env.Session.SendRequest("keepalive@openssh.com", true, nil); err != nil {
				return ExitOK
			}
		}
	}
}

func printView(env *Env, out viewJSON, tk core.ViewTicket) {
	w := env.Stdout
	if out.Live {
		fmt.Fprintf(w, env.T("Live view of %s.\n", "%s のライブ映像。\n"), out.Camera)
	} else {
		var size int64
		for _, f := range tk.Files {
			size += f.Size
		}
		fmt.Fprintf(w, env.T("Recording of %s from %s to %s (%d file(s), %s).\n", "%s の録画 %s ～ %s（%d ファイル、%s）。\n"),
			out.Camera, env.Time(tk.Files[0].Start), env.Time(tk.Files[len(tk.Files)-1].End), len(tk.Files), humanBytes(size))
	}
	fmt.Fprintln(w, env.T("Open in VLC, mpv or ffplay:", "VLC・mpv・ffplay で開いてください:"))
	for _, f := range out.Files {
		fmt.Fprintln(w, "  "+f.URL)
	}
	fmt.Fprintln(w, env.T("The address works only through this SSH session's port forward. If you did not start ssh with",
		"このアドレスはこの SSH セッションのポート転送経由でのみ使えます。ssh を"))
	fmt.Fprintf(w, "  %s\n", out.Forward)
	fmt.Fprintln(w, env.T("end this and connect again with:", "付けずに接続した場合は、終了して次で接続し直してください:"))
	fmt.Fprintf(w, "  %s\n", out.SSHCommand)
	fmt.Fprintf(w, env.T("Keep this session open while watching: the link ends when it closes (at the latest %s). Press Ctrl-C to end.\n",
		"閲覧中はこのセッションを開いたままにしてください。閉じるとリンクは無効になります（遅くとも %s）。終了は Ctrl-C。\n"),
		env.Time(tk.Expires))
}

// viewArgs is this view command again, for the ssh line that reruns it.
func viewArgs(camera string, live bool, from, to, request, reason string) string {
	cmd := "view " + shellQuote(camera)
	if live {
		cmd += " --live"
	} else {
		cmd += " --from " + shellQuote(from) + " --to " + shellQuote(to)
	}
	if request != "" {
		cmd += " --request " + shellQuote(request)
	}
	if reason != "" {
		// Quoted twice: once for the local shell, once for the remote split.
		cmd += " --reason " + shellQuote(shellQuote(reason))
	}
	return cmd
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:+@/") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
