package playback_test

import (
	"testing"
	"time"

	"mimamori/core"
	"mimamori/recorder"
	"mimamori/recorder/playback"
)

// expiringKeys is a core whose keys expire at until (a temporary
// viewer's grant).
type expiringKeys struct {
	*fakeCore
	until time.Time
}

func (c expiringKeys) LookupKey(fp string) (core.Key, error) {
	return core.Key{Fingerprint: fp, ExpiresAt: c.until}, nil
}

// A link never outlives the key it was minted for, whoever mints it: the
// SSH "view" command set that itself, the console did not, so a viewer's
// console link lived on after the grant ended (until the key check found
// the session, up to a minute later, or for the server's 4 h).
func TestLinkEndsWithTheKey(t *testing.T) {
	e := newEnv(t, 2)
	until := e.clk.Now().Add(10 * time.Minute)
	pb, err := playback.New(playback.Options{Footage: e.rg, Live: recorder.NewLive(), Core: expiringKeys{newFakeCore(), until},
		Now: e.clk.Now, MaxTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pb.Close() })
	tk, err := pb.Mint(core.ViewGrant{Actor: operator, SessionID: "console-1", Origin: "conn-1",
		View: core.ViewInput{Camera: "cam1", From: t0, To: t0.Add(time.Minute), Reason: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	if !tk.Expires.Equal(until) {
		t.Fatalf("link expires %s, the key at %s", tk.Expires, until)
	}
}
