package sshd

import (
	"net"
	"strconv"
	"strings"

	"github.com/charmbracelet/ssh"

	"mimamori/core"
)

// Playback is what sshd needs of the playback server (the recorder's
// recorder/playback.Server implements it; appliance wires it in): mint and
// end viewing links, and serve the forwarded channels they are used
// through. sshd does not import the recorder.
type Playback interface {
	// Mint authorizes g with core (ledgered) and returns a link. Errors
	// wrap core.ErrForbidden, core.ErrNoFootage or core.ErrNoLive.
	Mint(g core.ViewGrant) (core.ViewTicket, error)
	Revoke(token string)
	EndSession(sessionID string)
	// Done is closed when token ends.
	Done(token string) <-chan struct{}
	// Port and Addr are the loopback address users forward to.
	Port() int
	Addr() string
	// Accepts reports whether a forward to host:port is for playback.
	Accepts(host string, port uint32) bool
	// ServeConn serves one forwarded channel of the SSH connection origin.
	ServeConn(c net.Conn, origin string) error
}

// ForwardLine is the ssh command that opens a local forward to dest
// (localPort:dest) on the appliance sess reached, as the same user, and
// runs remoteCmd there ("" for none). Every "ssh -L" line shown to a
// person is built here.
func ForwardLine(sess ssh.Session, localPort int, dest, remoteCmd string) string {
	return sshLine(sess, ForwardArg(localPort, dest), remoteCmd)
}

// CommandLine is the ssh command that runs remoteCmd on the appliance
// sess reached, as the same user, from the person's own computer (the
// console shows it for what a terminal cannot carry: a file to upload,
// a sheet to print).
func CommandLine(sess ssh.Session, remoteCmd string) string { return sshLine(sess, "", remoteCmd) }

func sshLine(sess ssh.Session, opt, remoteCmd string) string {
	host, port := "HOST", "22"
	if a := sess.LocalAddr(); a != nil {
		if h, p, err := net.SplitHostPort(a.String()); err == nil {
			host, port = h, p
		}
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	target := host
	if user := sess.User(); user != "" {
		target = shellQuote(user) + "@" + host
	}
	line := "ssh"
	if opt != "" {
		line += " " + opt
	}
	if port != "22" {
		line += " -p " + port
	}
	line += " " + target
	if remoteCmd != "" {
		line += " " + remoteCmd
	}
	return line
}

// ForwardArg is the -L option of ForwardLine: "-L PORT:DEST".
func ForwardArg(localPort int, dest string) string {
	return "-L " + strconv.Itoa(localPort) + ":" + dest
}
