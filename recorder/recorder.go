// Package recorder ties RTSP ingest to the overwrite ring and offers the
// result to core/ as core.Footage. It knows nothing about SSH or screens.
package recorder

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"mimamori/core"
	"mimamori/recorder/ingest"
	"mimamori/recorder/ring"
)

// Camera is one stream to record.
type Camera struct {
	ID        string
	URL       string
	Transport string // "tcp" (default) or "udp"
	// StallTimeout: no frame for this long reconnects (0: ingest's
	// default, widened to the camera's own pace).
	StallTimeout time.Duration
}

// Ledger is what the recorder needs from core/: somewhere to prove
// erasures, to note events, and to learn what is held.
type Ledger interface {
	RecordErasure(core.Erasure) error
	RecordEvent(core.RecordingEvent) error
	ActiveHolds(now time.Time) []core.HoldRange
}

// Options configure a Recorder.
type Options struct {
	DataDir      string
	Capacity     int64
	BlockSize    int64
	HoldShare    float64
	Retention    time.Duration
	SyncInterval time.Duration
	Cameras      []Camera
	Ledger       Ledger
	Now          func() time.Time
	Mono         func() time.Duration // ring time source (tests); default CLOCK_BOOTTIME
	Logger       *slog.Logger
}

// Recorder records every configured camera into one ring.
type Recorder struct {
	opts    Options
	log     *slog.Logger
	ring    *ring.Ring
	cameras []*ingest.Camera
	byID    map[string]*ingest.Camera
	live    *Live // fragments as they are recorded (live.go)

	// Cameras stopped while the others record (removed from the
	// register): StopCamera cancels one camera's run and waits for it.
	runMu   sync.Mutex
	runs    map[string]cameraRun
	stopped map[string]bool
}

var _ core.CameraStopper = (*Recorder)(nil)

// stopWait bounds how long StopCamera waits for an ingest to end (it
// closes its RTSP connection on cancel, well within this).
const stopWait = 10 * time.Second

// cameraRun is one camera's running ingest.
type cameraRun struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// New opens (and recovers) the ring. Recording starts with Run.
func New(o Options) (*Recorder, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Ledger == nil {
		return nil, errors.New("recorder: a Ledger is required")
	}
	seen := map[string]bool{}
	for _, c := range o.Cameras {
		if c.ID == "" || seen[c.ID] {
			return nil, fmt.Errorf("recorder: camera id %q empty or duplicate", c.ID)
		}
		seen[c.ID] = true
	}
	// Each part names itself once: the ring adds component=ring and
	// ingest adds camera=ID, so they get the plain logger.
	log := o.Logger.With("component", "recorder")
	rg, err := ring.Open(ring.Options{
		Dir:          o.DataDir,
		Capacity:     o.Capacity,
		BlockSize:    o.BlockSize,
		Retention:    o.Retention,
		HoldShare:    o.HoldShare,
		SyncInterval: o.SyncInterval,
		Now:          o.Now,
		Mono:         o.Mono,
		Erasures:     o.Ledger,
		Holds:        o.Ledger,
		Events:       o.Ledger,
		Logger:       o.Logger,
	})
	if err != nil {
		return nil, err
	}
	r := &Recorder{opts: o, log: log, ring: rg, byID: map[string]*ingest.Camera{}, live: NewLive(),
		runs: map[string]cameraRun{}, stopped: map[string]bool{}}
	sink := ringSink{ring: rg, live: r.live}
	for _, c := range o.Cameras {
		cam := ingest.New(ingest.Options{
			Camera:       c.ID,
			URL:          c.URL,
			Transport:    c.Transport,
			Sink:         sink,
			StallTimeout: c.StallTimeout,
			Events:       o.Ledger,
			Now:          o.Now,
			ClockSteps:   rg.ClockSteps, // the ring detects wall-clock steps; ingest re-anchors
			Logger:       o.Logger.With("component", "ingest"),
		})
		r.cameras = append(r.cameras, cam)
		r.byID[c.ID] = cam
	}
	return r, nil
}

// Run records until ctx is done, then flushes the ring. It returns after
// every camera goroutine has stopped.
func (r *Recorder) Run(ctx context.Context) {
	var wg sync.WaitGroup
	ringCtx, stopRing := context.WithCancel(context.Background())
	ringDone := make(chan struct{})
	go func() { defer close(ringDone); r.ring.Run(ringCtx) }()
	for i, c := range r.cameras {
		id := r.opts.Cameras[i].ID
		r.runMu.Lock()
		if r.stopped[id] {
			r.runMu.Unlock()
			continue
		}
		cctx, cancel := context.WithCancel(ctx)
		run := cameraRun{cancel: cancel, done: make(chan struct{})}
		r.runs[id] = run
		r.runMu.Unlock()
		wg.Add(1)
		go func() { defer wg.Done(); defer close(run.done); defer cancel(); c.Run(cctx) }()
	}
	<-ctx.Done()
	wg.Wait()
	// The ring outlives the cameras so their last fragments are synced.
	stopRing()
	<-ringDone
}

// StopCamera stops recording one camera (core calls it when the camera is
// removed from the register) and returns once its ingest has ended, so
// no fragment of it is written afterwards. The other cameras go on; the
// camera's footage stays in the ring until retention erases it. Before
// Run, it keeps the camera from starting.
func (r *Recorder) StopCamera(id string) error {
	if _, ok := r.byID[id]; !ok {
		return nil // not recorded here
	}
	r.runMu.Lock()
	r.stopped[id] = true
	run, running := r.runs[id]
	r.runMu.Unlock()
	if running {
		run.cancel()
		select {
		case <-run.done:
		case <-time.After(stopWait):
			return fmt.Errorf("recorder: camera %s did not stop within %v", id, stopWait)
		}
		r.log.Info("camera recording stopped", "camera", id)
	}
	return nil
}

// Close flushes and closes the ring. Call after Run has returned.
func (r *Recorder) Close() error { return r.ring.Close() }

// Ring exposes the storage for playback and exports.
func (r *Recorder) Ring() *ring.Ring { return r.ring }

// Coverage implements core.Footage.
func (r *Recorder) Coverage(camera string, from, to time.Time) ([]core.Span, error) {
	return r.ring.Coverage(camera, from, to)
}

// CheckHold implements core.Footage.
func (r *Recorder) CheckHold(camera string, from, to time.Time, active []core.HoldRange) error {
	return r.ring.CheckHold(camera, from, to, active)
}

// Stats implements core.Footage: ingest state joined with what the ring
// holds for each camera.
func (r *Recorder) Stats() core.RecorderStats {
	now := r.opts.Now()
	st := core.RecorderStats{Ring: r.ring.Stats()}
	usage := r.ring.Usages()
	for _, c := range r.cameras {
		cs := c.Stats()
		u := usage[cs.Camera]
		cs.Oldest, cs.BytesStored, cs.TargetRetain = u.Oldest, u.Bytes, r.opts.Retention
		if !u.Oldest.IsZero() {
			cs.AchievedRetain = now.Sub(u.Oldest)
		}
		st.Cameras = append(st.Cameras, cs)
	}
	sort.Slice(st.Cameras, func(i, j int) bool { return st.Cameras[i].Camera < st.Cameras[j].Camera })
	return st
}

// ringSink adapts the ring to what ingest writes.
type ringSink struct {
	ring *ring.Ring
	live *Live
}

func (s ringSink) WriteInit(camera string, init []byte) (uint32, error) {
	return s.ring.AppendInit(camera, init)
}

func (s ringSink) WriteFragment(f ingest.Fragment) error {
	// Live view (live.go) does not wait for the disk. Its subscribers keep
	// the bytes, which ingest reuses, so they get a copy; with nobody
	// watching, nothing is copied. A viewer subscribing during this call
	// starts with the next fragment.
	if s.live != nil && s.live.Subscribers(f.Camera) > 0 {
		lf := f
		lf.Payload, lf.Body = f.Bytes(), nil
		s.publishLive(lf)
	}
	err := s.ring.AppendFragment(ring.Fragment{
		Camera:        f.Camera,
		Start:         f.Start,
		Duration:      f.Duration,
		Keyframe:      f.Keyframe,
		Discontinuity: f.Discontinuity,
		InitID:        f.InitID,
		Payload:       f.Payload,
		Body:          f.Body,
	})
	if errors.Is(err, ring.ErrUnknownInit) {
		return fmt.Errorf("%w: %w", ingest.ErrInitUnknown, err)
	}
	return err
}
