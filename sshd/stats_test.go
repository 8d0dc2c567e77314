package sshd

import (
	"testing"

	gossh "golang.org/x/crypto/ssh"
)

// Stats counts open sessions and refusals by reason; a key nobody
// enrolled is one refusal per key offered, an enrolled one none.
func TestStatsCountSessionsAndRefusals(t *testing.T) {
	f := newFixture(t, nil)
	if st := f.srv.Stats(); st.Sessions != 0 || len(st.Refusals) != len(RefusalReasons()) {
		t.Fatalf("fresh server: %+v", st)
	}
	stranger, _ := newSigner(t)
	if c, err := gossh.Dial("tcp", f.addr, clientConfig(gossh.PublicKeys(stranger))); err == nil {
		c.Close()
		t.Fatal("a stranger's key got in")
	}
	c, err := f.dial(f.manager)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	stdin, err := s.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start("export-passphrase set"); err != nil { // waits on stdin: a session stays open
		t.Fatal(err)
	}
	waitFor(t, "one open session", func() bool { return f.srv.Stats().Sessions == 1 })
	st := f.srv.Stats()
	if st.Refusals[RefusedNotEnrolled] != 1 || st.Connections < 1 {
		t.Fatalf("stats %+v", st)
	}
	for r, n := range st.Refusals {
		if r != RefusedNotEnrolled && n != 0 {
			t.Errorf("refusal %s counted %d", r, n)
		}
	}
	stdin.Close()
	_ = s.Wait()
	waitFor(t, "no open session", func() bool { return f.srv.Stats().Sessions == 0 })
}

func TestRefusalCounterIgnoresUnknownReasons(t *testing.T) {
	var r refusalCounter
	r.add("something a client made up")
	r.add(RefusedRate)
	snap := r.snapshot()
	if len(snap) != len(RefusalReasons()) || snap[RefusedRate] != 1 {
		t.Fatalf("%v", snap)
	}
}
