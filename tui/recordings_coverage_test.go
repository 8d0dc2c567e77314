package tui

import (
	"slices"
	"strings"
	"testing"
	"time"

	"mimamori/core"
)

// The recordings tab asks the recorder for the cameras it shows, not all
// of them (a whole retention of 64 cameras was minutes of CPU every
// 30 s), asks for more as it scrolls, and draws a camera's gap where
// its footage has one.
func TestRecordingsLoadsShownRowsAndDrawsGaps(t *testing.T) {
	f := newFake(50)
	week := 7 * 24 * time.Hour
	gapFrom, gapTo := testNow.Add(-4*24*time.Hour), testNow.Add(-2*24*time.Hour)
	f.spans["cam05"] = []core.Span{
		{Camera: "cam05", Start: testNow.Add(-week), End: gapFrom},
		{Camera: "cam05", Start: gapTo, End: testNow},
	}
	u := syncUI(t, f, core.RoleManager, "en", 120, 30)
	press(u, "2")
	p := recPage(u)
	shown := func() []string {
		a, b := p.sc.visible()
		var ids []string
		for _, r := range p.rows[a:b] {
			ids = append(ids, r.cam.ID)
		}
		return ids
	}
	asked := func() []string {
		var ids []string
		for _, c := range f.called("Coverage manager ") {
			if id := strings.TrimPrefix(c, "Coverage manager "); !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids)
		return ids
	}
	vis := shown()
	if len(vis) < 5 || len(vis) >= 25 {
		t.Fatalf("%d rows shown: the test needs some, not all", len(vis))
	}
	if got := asked(); !slices.Equal(got, slices.Sorted(slices.Values(vis))) {
		t.Fatalf("coverage asked for %v, shown %v", got, vis)
	}

	// cam05's row: the cells inside the gap are gaps, those inside the
	// footage full.
	view := u.View()
	var row string
	for _, l := range strings.Split(view, "\n") {
		if strings.Contains(l, "5 Gate 5") {
			row = l
		}
	}
	tw := p.timelineW()
	rs := []rune(row)
	if len(rs) < 2+recNameW+1+tw {
		t.Fatalf("no row for cam05 in\n%s", view)
	}
	cells := string(rs[2+recNameW+1 : 2+recNameW+1+tw])
	from, to := u.s.data.coverFrom, u.s.data.coverTo
	gaps := 0
	for i, c := range []rune(cells) {
		c0 := from.Add(to.Sub(from) * time.Duration(i) / time.Duration(tw))
		c1 := from.Add(to.Sub(from) * time.Duration(i+1) / time.Duration(tw))
		switch {
		case !c0.Before(gapFrom) && !c1.After(gapTo):
			gaps++
			if string(c) != cellGap {
				t.Fatalf("cell %d [%s, %s) inside the gap is %q: %s", i, c0, c1, c, cells)
			}
		case (!c0.Before(testNow.Add(-week)) && !c1.After(gapFrom)) || (!c0.Before(gapTo) && !c1.After(testNow)):
			if string(c) != cellFull {
				t.Fatalf("cell %d [%s, %s) inside the footage is %q: %s", i, c0, c1, c, cells)
			}
		}
	}
	if gaps < tw/4 {
		t.Fatalf("%d gap cells of %d: %s", gaps, tw, cells)
	}

	// Jumped to the end: the rows that came into view are asked for, the
	// ones scrolled past are not.
	press(u, "G")
	vis = shown()
	if vis[len(vis)-1] != "cam50" {
		t.Fatalf("scrolled to %v", vis)
	}
	got := asked()
	for _, id := range vis {
		if !slices.Contains(got, id) {
			t.Fatalf("%s shown but its coverage not asked for (asked %v)", id, got)
		}
	}
	if v := u.View(); strings.Contains(v, u.s.T("loading")) {
		t.Fatalf("a shown row is still loading:\n%s", v)
	}
	if slices.Contains(got, "cam25") {
		t.Fatalf("cam25 was never shown but its coverage was asked for")
	}
	t.Logf("%d rows shown; coverage asked for %d of 50 cameras", len(vis), len(got))
}
