package playback

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"mimamori/recorder"
)

// ServeHTTP routes /v/TOKEN/recording[-N].mp4 and /v/TOKEN/live.mp4.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	token, name, ok := strings.Cut(rest, "/")
	origin, _ := r.Context().Value(originKey{}).(string)
	if !ok || origin == "" {
		s.forbid(w, r, "malformed path or no SSH origin")
		return
	}
	t, why := s.acquire(token, origin)
	if t == nil {
		s.forbid(w, r, why)
		return
	}
	defer s.release(t)
	switch {
	case t.g.View.Live && name == "live.mp4":
		s.serveLive(w, r, t)
	case !t.g.View.Live:
		for i, p := range t.pieces {
			if name == recordingName(i) {
				s.serveRecording(w, r, t, i, p.Size())
				return
			}
		}
		s.forbid(w, r, "file not part of the token")
	default:
		s.forbid(w, r, "file not part of the token")
	}
}

// forbid answers 403 with nothing that tells a guesser what was wrong.
func (s *Server) forbid(w http.ResponseWriter, r *http.Request, why string) {
	s.rlog.Warn("request refused: "+why, "path", redact(r.URL.Path))
	http.Error(w, "forbidden", http.StatusForbidden)
}

// redact keeps the first characters of a token out of logs' full view.
func redact(path string) string {
	rest, ok := strings.CutPrefix(path, "/v/")
	if !ok {
		return path
	}
	token, name, _ := strings.Cut(rest, "/")
	if len(token) > 6 {
		token = token[:6] + "…"
	}
	return "/v/" + token + "/" + name
}

// serveRecording answers with piece i of the ticket's plan. Range requests
// (seeking in the player) work because the body is a ReaderAt.
func (s *Server) serveRecording(w http.ResponseWriter, r *http.Request, t *ticket, i int, size int64) {
	cw := &countingWriter{ResponseWriter: w, t: t}
	h := w.Header()
	h.Set("Content-Type", "video/mp4")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	body := io.NewSectionReader(&cutReaderAt{ra: t.pieces[i].ReaderAt(), done: t.done, req: r}, 0, size)
	http.ServeContent(cw, r, recordingName(i), time.Time{}, body)
}

// errTokenEnded stops a response whose token ended mid-way.
var errTokenEnded = errors.New("playback: token ended")

// cutReaderAt stops reading once the token ends or the client is gone.
type cutReaderAt struct {
	ra   io.ReaderAt
	done <-chan struct{}
	req  *http.Request
}

func (c *cutReaderAt) ReadAt(b []byte, off int64) (int, error) {
	select {
	case <-c.done:
		return 0, errTokenEnded
	case <-c.req.Context().Done():
		return 0, c.req.Context().Err()
	default:
	}
	return c.ra.ReadAt(b, off)
}

// serveLive streams the camera as it is recorded: from the next keyframe,
// the init segment and then every fragment, until the client leaves, the
// token ends, the stream changes codec configuration, or the viewer falls
// too far behind.
func (s *Server) serveLive(w http.ResponseWriter, r *http.Request, t *ticket) {
	h := w.Header()
	h.Set("Content-Type", "video/mp4")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	sub := s.o.Live.Subscribe(t.g.View.Camera, 0)
	defer sub.Close()
	cw := &countingWriter{ResponseWriter: w, t: t}
	rc := http.NewResponseController(cw)
	started := false
	var initID uint32
	for {
		var f recorder.LiveFragment
		var ok bool
		select {
		case f, ok = <-sub.Fragments():
		case <-t.done:
			return
		case <-r.Context().Done():
			return
		}
		if !ok {
			if sub.Lagged() {
				s.log.Info("live viewer fell behind; stream ended", "actor", t.g.Actor.Name, "camera", t.g.View.Camera)
			}
			return
		}
		if !started {
			if !f.Keyframe {
				continue // a player can only start at a keyframe
			}
			init, err := s.o.Footage.Init(t.g.View.Camera, f.InitID)
			if err != nil {
				s.log.Error("live: init segment", "camera", t.g.View.Camera, "err", err)
				http.Error(w, "init segment unavailable", http.StatusInternalServerError)
				return
			}
			if _, err := cw.Write(init); err != nil {
				return
			}
			started, initID = true, f.InitID
		} else if f.InitID != initID {
			// New codec configuration: this file cannot carry it. The
			// player reconnects and gets the new init.
			s.log.Info("live: stream reconfigured; ending this stream", "camera", t.g.View.Camera)
			return
		}
		if _, err := cw.Write(f.Payload); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

// countingWriter counts body bytes into the ticket.
type countingWriter struct {
	http.ResponseWriter
	t *ticket
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.t.bytes.Add(int64(n))
	if err != nil {
		return n, fmt.Errorf("playback: write: %w", err)
	}
	return n, nil
}

// Unwrap lets http.ResponseController reach the real writer's Flush.
func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
