package core

import (
	"errors"
	"sync"
	"testing"
	"time"
)

// stoppingFootage records which cameras core asked to stop, and whether
// the register already said "removed" when it did.
type stoppingFootage struct {
	fakeFootage
	s       *Store
	mu      sync.Mutex
	stopped []string
	removed []bool
}

func (f *stoppingFootage) StopCamera(id string) error {
	gone, _ := f.s.RemovedCameras()
	f.mu.Lock()
	f.stopped = append(f.stopped, id)
	f.removed = append(f.removed, gone[id])
	f.mu.Unlock()
	return nil
}

// 001 §8-2: removing a camera is the manager's decision, with a reason;
// recording stops, the register keeps the camera marked removed, and a
// restart does not record it again. (The ring keeps its footage until
// retention: nothing here erases.)
func TestRemoveCameraStopsRecording(t *testing.T) {
	s, _, _ := newTestStore(t, CompanyTemplate())
	foot := &stoppingFootage{s: s}
	s.SetFootage(foot)
	mustCamera(t, s, "cam1")
	mustCamera(t, s, "cam2")

	if err := s.RemoveCamera(technician, "cam1", "pole removed"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("technician removed a camera: %v", err)
	}
	var fe *FieldError
	if err := s.RemoveCamera(manager, "cam1", " "); !errors.As(err, &fe) || fe.Field != "reason" {
		t.Fatalf("removal without a reason: %v", err)
	}
	if len(foot.stopped) != 0 {
		t.Fatal("recording stopped before a removal was recorded")
	}
	if err := s.RemoveCamera(manager, "cam1", "運用終了（地区の決定）"); err != nil {
		t.Fatal(err)
	}
	if len(foot.stopped) != 1 || foot.stopped[0] != "cam1" || !foot.removed[0] {
		t.Fatalf("stop calls %v (register removed first: %v)", foot.stopped, foot.removed)
	}
	c, err := s.Camera(manager, "cam1")
	if err != nil || c.Status != CameraRemoved || c.RemovedReason != "運用終了（地区の決定）" || c.RemovedAt.IsZero() {
		t.Fatalf("register after removal: %+v %v", c, err)
	}
	e := lastEntry(t, s)
	if e.Action != ActionCameraRemove || e.Subject != "cam1" || e.Details["reason"] != "運用終了（地区の決定）" {
		t.Fatalf("removal entry %+v", e)
	}
	if err := s.RemoveCamera(manager, "cam1", "again"); !errors.Is(err, ErrConflict) {
		t.Fatalf("second removal: %v", err)
	}
	if gone, _ := s.RemovedCameras(); !gone["cam1"] || gone["cam2"] {
		t.Fatalf("removed cameras %v", gone)
	}
	// The config still listing the camera does not bring it back.
	if err := s.SyncCameras(system, []Camera{{ID: "cam1", Name: "Camera cam1", URL: "rtsp://127.0.0.1:8554/cam1"}}); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Camera(manager, "cam1"); c.Status != CameraRemoved {
		t.Fatalf("config sync revived the camera: %+v", c)
	}

	// A camera-removal maintenance record is the same act: manager only,
	// removal and record in one transaction.
	if _, err := s.RecordMaintenance(technician, MaintenanceInput{Kind: MaintCameraRemoval, Camera: "cam2",
		Performer: "保守会社", Notes: "撤去"}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("technician camera-removal record: %v", err)
	}
	rec, err := s.RecordMaintenance(manager, MaintenanceInput{Kind: MaintCameraRemoval, Camera: "cam2", Performer: "保守会社",
		Notes: "商店街の移転により撤去"})
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Camera(manager, "cam2"); c.Status != CameraRemoved || rec.ID == "" || len(foot.stopped) != 2 {
		t.Fatalf("maintenance removal: camera %+v record %+v stops %v", c, rec, foot.stopped)
	}
	ms, _ := s.MaintenanceRecords(manager)
	if len(ms) != 1 || ms[0].Kind != MaintCameraRemoval {
		t.Fatalf("maintenance records %+v", ms)
	}
}

// A sign taken down or put up (form 1, 000 §4-3; 001 §8-2) updates the
// register's sign, and the config file no longer overrides it.
func TestSignRecordsUpdateRegister(t *testing.T) {
	s, clk, _ := newTestStore(t, CityStandard())
	if err := s.SyncCameras(system, []Camera{{ID: "cam1", URL: "rtsp://127.0.0.1/1", SignPosted: true}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordMaintenance(manager, MaintenanceInput{Kind: MaintSignRemoval, Camera: "cam1",
		Performer: "保守会社", Notes: "看板の破損"}); err != nil {
		t.Fatal(err)
	}
	c, _ := s.Camera(manager, "cam1")
	if c.SignPosted || c.SignChangedAt.IsZero() {
		t.Fatalf("after sign removal: %+v", c)
	}
	e := lastEntry(t, s)
	if e.Action != ActionCameraUpdate || e.Details["sign_posted"] != "true -> false" {
		t.Fatalf("register entry %+v", e)
	}
	clk.Advance(time.Hour)
	if err := s.SyncCameras(system, []Camera{{ID: "cam1", URL: "rtsp://127.0.0.1/1", SignPosted: true}}); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Camera(manager, "cam1"); c.SignPosted {
		t.Fatal("the config's sign_posted undid a recorded removal")
	}
	if _, err := s.RecordMaintenance(manager, MaintenanceInput{Kind: MaintSignPosted, Camera: "cam1", Performer: "保守会社"}); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Camera(manager, "cam1"); !c.SignPosted {
		t.Fatal("sign posted not recorded in the register")
	}
}
