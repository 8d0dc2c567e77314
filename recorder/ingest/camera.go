package ingest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"mimamori/core"
)

// Camera records one RTSP camera. Create it with New, run it with Run.
type Camera struct {
	o  Options
	st stats

	// fmu guards frag: the RTP callback writes, the supervisor flushes
	// between connections.
	fmu  sync.Mutex
	frag *fragmenter
}

// New returns a Camera for o; zero fields take the package defaults.
func New(o Options) *Camera {
	o.setDefaults()
	o.Logger = o.Logger.With("camera", o.Camera)
	c := &Camera{o: o}
	c.st.state = StateStopped
	c.frag = newFragmenter(o.Camera, codecH264, o.MaxFragment, o.Sink, o.Now, o.Mono, &c.st, c.event)
	return c
}

// Stats is a snapshot of the camera's ingest state. It never blocks on I/O.
func (c *Camera) Stats() core.CameraStats {
	return c.st.snapshot(c.o.Camera, c.o.Mono())
}

// Run connects, records and reconnects until ctx is done. Call it once.
func (c *Camera) Run(ctx context.Context) {
	defer func() {
		c.st.connected.Store(false)
		c.st.setState(StateStopped)
		c.o.Logger.Info("ingest stopped")
	}()
	if c.o.Sink == nil {
		c.st.setError(errors.New("no sink configured"))
		c.st.setState(StateError)
		<-ctx.Done()
		return
	}

	backoff := c.o.BackoffMin
	for {
		c.st.setState(StateConnecting)
		res := c.runSession(ctx)
		c.st.connected.Store(false)

		c.fmu.Lock()
		c.frag.endConnection()
		c.fmu.Unlock()

		if ctx.Err() != nil {
			return
		}
		if res.err != nil {
			c.st.setError(res.err)
			if errors.Is(res.err, errStalled) {
				c.st.setState(StateStalled)
			} else {
				c.st.setState(StateError)
			}
			c.o.Logger.Warn("ingest connection ended", "err", res.err)
		}
		if res.recorded {
			c.event(EventCameraDown, c.o.Now().UTC(), map[string]string{"error": errString(res.err)})
		}
		if res.healthy >= healthyAfter {
			backoff = c.o.BackoffMin
		}

		wait := jitter(backoff)
		backoff = min(backoff*2, c.o.BackoffMax)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		c.st.reconnects.Add(1)
	}
}

// jitter spreads d by ±20% so cameras behind one switch don't reconnect in step.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// event forwards a recording event to the EventSink, logging failures.
func (c *Camera) event(kind string, at time.Time, details map[string]string) {
	c.o.Logger.Info("recording event", "kind", kind, "details", details)
	if c.o.Events == nil {
		return
	}
	ev := core.RecordingEvent{Camera: c.o.Camera, Kind: kind, At: at, Details: details}
	if err := c.o.Events.RecordEvent(ev); err != nil {
		c.o.Logger.Warn("recording event not stored", "kind", kind, "err", err)
	}
}

// writeAU feeds one access unit to the fragmenter. A panic in parsing
// code on hostile input costs this access unit, never the process.
func (c *Camera) writeAU(au [][]byte, pts int64) (stored, noParams bool) {
	c.fmu.Lock()
	defer c.fmu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			c.st.decodeErrors.Add(1)
			c.st.dropped.Add(1)
			c.st.setError(fmt.Errorf("access unit rejected: %v", r))
			c.frag.needKey = true
			c.frag.resetDTS()
			stored = false
		}
	}()
	before := c.st.frames.Load()
	c.frag.writeAU(au, pts)
	return c.st.frames.Load() != before, !c.frag.haveParams()
}
