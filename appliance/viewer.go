package appliance

import (
	"fmt"
	"time"

	"github.com/charmbracelet/ssh"

	"mimamori/core"
	"mimamori/sshd"
)

// consoleViewer lets one console session mint viewing links (tui.Viewer).
// Links are bound to the session's SSH connection, so the forward must
// be part of the same connection the console runs in: the console shows
// the login line with -L for the appliance's fixed playback port.
type consoleViewer struct {
	pb   sshd.Playback
	sess ssh.Session
}

func newConsoleViewer(pb sshd.Playback, sess ssh.Session, sessionID string) *consoleViewer {
	v := &consoleViewer{pb: pb, sess: sess}
	// Links end with the console session.
	go func() { <-sess.Context().Done(); pb.EndSession(sessionID) }()
	return v
}

func (v *consoleViewer) Mint(actor core.Actor, sessionID string, in core.ViewInput) (string, string, time.Time, error) {
	tk, err := v.pb.Mint(core.ViewGrant{Actor: actor, SessionID: sessionID, Origin: v.sess.Context().SessionID(), View: in})
	if err != nil {
		return "", "", time.Time{}, err
	}
	port := v.pb.Port()
	url := fmt.Sprintf("http://127.0.0.1:%d%s", port, tk.Files[0].Path)
	return url, sshd.ForwardLine(v.sess, port, v.pb.Addr(), ""), tk.Expires, nil
}
