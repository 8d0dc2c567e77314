package core

import (
	"errors"
	"testing"
	"time"
)

// The police consultation date (000 §4-2) a person records is a past
// event: a future date or a typo like year 9999 is refused with the
// field's name, and the register keeps what it had.
func TestPoliceConsultationDateIsChecked(t *testing.T) {
	s, clk, _ := newTestStore(t, CityStandard())
	if err := s.SyncCameras(system, []Camera{{ID: "cam1", URL: "rtsp://127.0.0.1/1"}}); err != nil {
		t.Fatal(err)
	}
	c, _ := s.Camera(manager, "cam1")
	for _, bad := range []time.Time{clk.Now().Add(72 * time.Hour), time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC),
		time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)} {
		c.PoliceConsulted = bad
		_, err := s.UpdateCamera(manager, c)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != "police_consulted" {
			t.Fatalf("police date %s: %v, want a police_consulted field error", bad, err)
		}
	}
	if got, _ := s.Camera(manager, "cam1"); !got.PoliceConsulted.IsZero() {
		t.Fatalf("a refused date was stored: %s", got.PoliceConsulted)
	}
	c.PoliceConsulted = clk.Now().Add(-30 * 24 * time.Hour)
	if _, err := s.UpdateCamera(manager, c); err != nil {
		t.Fatal(err)
	}
	// An update that leaves a stored date alone is not re-judged.
	c.Name = "gate"
	if _, err := s.UpdateCamera(manager, c); err != nil {
		t.Fatal(err)
	}
}
