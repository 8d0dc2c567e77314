package appliance

import (
	"fmt"
	"net"
	"time"

	"github.com/charmbracelet/ssh"

	"mimamori/core"
	"mimamori/recorder/playback"
)

// consoleViewer lets one console session mint viewing links (tui.Viewer).
// Links are bound to the session's SSH connection, so the forward must
// be part of the same connection the console runs in: the console shows
// the login line with -L for the appliance's fixed playback port.
type consoleViewer struct {
	pb   *playback.Server
	sess ssh.Session
}

func newConsoleViewer(pb *playback.Server, sess ssh.Session, sessionID string) *consoleViewer {
	v := &consoleViewer{pb: pb, sess: sess}
	// Links end with the console session.
	go func() { <-sess.Context().Done(); pb.EndSession(sessionID) }()
	return v
}

func (v *consoleViewer) Mint(actor core.Actor, sessionID, camera string, from, to time.Time, live bool) (string, string, time.Time, error) {
	tk, err := v.pb.Mint(playback.Grant{Actor: actor, SessionID: sessionID, Origin: v.sess.Context().SessionID(),
		Camera: camera, From: from, To: to, Live: live})
	if err != nil {
		return "", "", time.Time{}, err
	}
	port := v.pb.Port()
	url := fmt.Sprintf("http://127.0.0.1:%d%s", port, tk.Files[0].Path)
	host, sshPort := "HOST", "22"
	if a := v.sess.LocalAddr(); a != nil {
		if h, p, err := net.SplitHostPort(a.String()); err == nil {
			host, sshPort = h, p
		}
	}
	forward := fmt.Sprintf("ssh -L %d:%s -p %s %s", port, v.pb.Addr(), sshPort, host)
	return url, forward, tk.Expires, nil
}
