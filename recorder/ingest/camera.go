package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"

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

	evLog eventLogRate
	stall stallClock // when no frame means stalled (stall.go)
	// quietConnect: a run of failures already logged one of its
	// connects, so "ingest connected" goes to debug; connectLogged: this
	// session logged its connect at info. Both belong to Run's goroutine.
	quietConnect, connectLogged bool
}

// eventLogRate keeps a camera whose stream is broken all the time from
// flooding the log with its events (about one a second each): a kind is
// logged the first time, then at most every failureLogEvery with the
// count since. Every event still goes to the event sink (core coalesces
// them into the ledger with counts).
type eventLogRate struct {
	mu    sync.Mutex
	kinds map[string]*kindLog
}

type kindLog struct {
	at     time.Duration // Mono() when last logged
	unseen uint64        // events of the kind since, not logged
}

// take reports whether to log an event of kind now, and how many went
// unlogged before it.
func (l *eventLogRate) take(kind string, mono time.Duration) (bool, uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.kinds == nil {
		l.kinds = map[string]*kindLog{}
	}
	k := l.kinds[kind]
	if k == nil {
		l.kinds[kind] = &kindLog{at: mono}
		return true, 0
	}
	if mono-k.at < failureLogEvery {
		k.unseen++
		return false, 0
	}
	n := k.unseen
	k.at, k.unseen = mono, 0
	return true, n
}

// New returns a Camera for o; zero fields take the package defaults.
func New(o Options) *Camera {
	o.setDefaults()
	o.Logger = o.Logger.With("camera", o.Camera)
	c := &Camera{o: o}
	c.stall.base = o.StallTimeout
	c.st.state = StateStopped
	c.frag = newFragmenter(o.Camera, codecH264, o.MaxFragment, o.Sink, o.Now, o.Mono, &c.st, c.event)
	c.frag.steps = o.ClockSteps
	return c
}

// Stats is a snapshot of the camera's ingest state. It never blocks on I/O.
func (c *Camera) Stats() core.CameraStats {
	return c.st.snapshot(c.o.Camera, c.o.Mono())
}

// Run connects, records and reconnects until ctx is done. Call it once.
//
// A connection that fails or ends is retried after BackoffMin (±20%),
// however long the camera has been away, so recording resumes within
// about BackoffMin plus one keyframe interval of the camera coming back.
// Only failures a retry cannot fix soon (refused credentials, no video
// in the stream) back off, doubling up to BackoffMax; a camera that
// locks out an account after failed logins is not hammered. A camera
// that restarted its RTP source over UDP is reconnected at once.
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
	var failing failureLog
	for {
		if !failing.active() {
			c.st.setState(StateConnecting)
		}
		inRun := failing.active()
		c.quietConnect, c.connectLogged = inRun && failing.connected, false
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
			// A connection ends a run of failures only once it stayed
			// up healthyAfter: one dropping every few seconds after it
			// recorded is one run, logged by rate, not twice a cycle.
			healthy := res.healthy >= healthyAfter
			failing.note(c.o.Logger, res.err, healthy, c.o.Mono())
			if inRun && !healthy && c.connectLogged {
				failing.connected = true // later connects of this run: debug
			}
		}
		if res.recorded && !errors.Is(res.err, errSourceChanged) {
			c.event(EventCameraDown, c.o.Now().UTC(), map[string]string{"error": errString(res.err)})
		}
		if res.healthy >= healthyAfter {
			backoff = c.o.BackoffMin
		}

		var wait time.Duration
		switch {
		case errors.Is(res.err, errSourceChanged):
		case lastingFailure(res.err):
			wait = jitter(backoff)
			backoff = min(backoff*2, c.o.BackoffMax)
		default:
			wait = jitter(c.o.BackoffMin)
		}
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		c.st.reconnects.Add(1)
	}
}

// lastingFailure reports errors a quick retry will not fix: refused
// credentials, a stream without video, a bad URL or transport.
func lastingFailure(err error) bool {
	var bad liberrors.ErrClientBadStatusCode
	if errors.As(err, &bad) {
		return bad.Code == base.StatusUnauthorized || bad.Code == base.StatusForbidden
	}
	return errors.Is(err, errNoVideo) || errors.Is(err, errBadTranspt) || errors.Is(err, errBadURL)
}

// failureLog keeps a camera that keeps failing from flooding the log:
// the first failure of a run is logged, then only a changed error or a
// reminder every failureLogEvery. A run ends with a connection that stays
// up healthyAfter; its first connect is logged, later ones at debug.
type failureLog struct {
	started   bool          // a run of failures is going on
	since     time.Duration // Mono() of its first failure
	last      string        // the error last logged
	lastLog   time.Duration // when
	attempts  int
	connected bool // a connect of this run was logged
}

const failureLogEvery = 5 * time.Minute

func (f *failureLog) active() bool { return f.started }

func (f *failureLog) note(log *slog.Logger, err error, healthy bool, mono time.Duration) {
	msg := err.Error()
	if healthy || !f.started {
		*f = failureLog{since: mono, last: msg, lastLog: mono, attempts: 1, started: true}
		log.Warn("ingest connection ended", "err", err)
		return
	}
	f.attempts++
	if msg != f.last || mono-f.lastLog >= failureLogEvery {
		log.Warn("ingest still failing", "err", err, "attempts", f.attempts,
			"failing_for", (mono - f.since).Round(time.Second).String())
		f.last, f.lastLog = msg, mono
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
	if ok, unseen := c.evLog.take(kind, c.o.Mono()); ok {
		if unseen > 0 {
			c.o.Logger.Info("recording event", "kind", kind, "details", details, "unlogged_since_last", unseen)
		} else {
			c.o.Logger.Info("recording event", "kind", kind, "details", details)
		}
	}
	if c.o.Events == nil {
		return
	}
	ev := core.RecordingEvent{Camera: c.o.Camera, Kind: kind, At: at, Details: details}
	if err := c.o.Events.RecordEvent(ev); err != nil {
		c.o.Logger.Warn("recording event not stored", "kind", kind, "err", err)
	}
}

// writeAU feeds one access unit to the fragmenter and reports whether it
// was stored. A panic in parsing code on hostile input costs this access
// unit, never the process.
func (c *Camera) writeAU(au [][]byte, pts int64) (stored bool) {
	c.fmu.Lock()
	defer c.fmu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			c.st.dropped.Add(1)
			c.frag.invalidPayload(fmt.Errorf("access unit rejected: %v", r))
			stored = false
		}
	}()
	before := c.st.frames.Load()
	c.frag.writeAU(au, pts)
	return c.st.frames.Load() != before
}

// sourceLost notes an RTP source restart that ends the session (UDP,
// RTSPS); over TCP the receiver follows it instead.
func (c *Camera) sourceLost() {
	c.st.ssrcChanges.Add(1)
	c.event(EventSSRCChange, c.o.Now().UTC(), map[string]string{"followed": "reconnect"})
}
