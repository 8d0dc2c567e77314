package sshd

import (
	"net"
	"testing"

	"github.com/charmbracelet/ssh"
)

// addrSession is an ssh.Session that only knows its addresses and user.
type addrSession struct {
	ssh.Session
	local net.Addr
	user  string
}

func (s addrSession) LocalAddr() net.Addr { return s.local }
func (s addrSession) User() string        { return s.user }

func TestForwardLine(t *testing.T) {
	cases := []struct {
		local net.Addr
		user  string
		cmd   string
		want  string
	}{
		{&net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 2222}, "sato", "view cam1 --live",
			"ssh -L 2280:127.0.0.1:2280 -p 2222 sato@192.0.2.7 view cam1 --live"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8::7"), Port: 2222}, "", "",
			"ssh -L 2280:127.0.0.1:2280 -p 2222 [2001:db8::7]"},
		{&net.TCPAddr{IP: net.ParseIP("::1"), Port: 22}, "o'neil", "",
			`ssh -L 2280:127.0.0.1:2280 'o'\''neil'@[::1]`},
		{nil, "", "", "ssh -L 2280:127.0.0.1:2280 HOST"},
	}
	for _, c := range cases {
		got := ForwardLine(addrSession{local: c.local, user: c.user}, 2280, "127.0.0.1:2280", c.cmd)
		if got != c.want {
			t.Errorf("ForwardLine(%v, %q) = %q, want %q", c.local, c.user, got, c.want)
		}
	}
}
