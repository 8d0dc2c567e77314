package ingest

import (
	"testing"
	"time"
)

// Frames and bytes received are totals; the age of the last frame is on
// the monotonic clock, so a wall-clock step between frames does not move it.
func TestStatsCountersAndLastFrameAge(t *testing.T) {
	var s stats
	if cs := s.snapshot("cam1", time.Second); cs.FramesReceived != 0 || cs.SinceLastFrame != 0 || !cs.LastFrame.IsZero() {
		t.Fatalf("fresh: %+v", cs)
	}
	wall := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	s.frame(wall, 1000, 10*time.Second)
	s.frame(wall.Add(-time.Hour), 500, 11*time.Second) // the wall clock stepped back an hour
	cs := s.snapshot("cam1", 13*time.Second)
	if cs.FramesReceived != 2 || cs.BytesReceived != 1500 {
		t.Errorf("counted %d frames, %d bytes; want 2, 1500", cs.FramesReceived, cs.BytesReceived)
	}
	if cs.SinceLastFrame != 2*time.Second {
		t.Errorf("since last frame %v, want 2s", cs.SinceLastFrame)
	}
}
