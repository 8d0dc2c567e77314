package core

import (
	"context"
	"sync"
)

// Change tells subscribers that something committed.
type Change struct {
	Seq     uint64
	Action  Action
	Subject string
}

const subBuffer = 64

// hub fans committed changes out to console sessions. Sends never block:
// a slow subscriber loses changes (it refreshes on the next one anyway).
type hub struct {
	mu     sync.Mutex
	subs   map[chan Change]struct{}
	closed bool
	done   chan struct{} // closed by closeAll so watcher goroutines end
}

func (h *hub) init() {
	h.subs = map[chan Change]struct{}{}
	h.done = make(chan struct{})
}

// Subscribe returns a channel of changes, closed when ctx is done or the
// store closes.
func (s *Store) Subscribe(ctx context.Context) <-chan Change {
	ch := make(chan Change, subBuffer)
	h := &s.hub
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		close(ch)
		return ch
	}
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	go func() {
		select {
		case <-ctx.Done():
			h.remove(ch)
		case <-h.done:
		}
	}()
	return ch
}

func (h *hub) remove(ch chan Change) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[ch]; ok {
		delete(h.subs, ch)
		close(ch)
	}
}

func (h *hub) publish(c Change) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- c:
		default: // full: drop; the subscriber will re-read state
		}
	}
}

func (h *hub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		close(ch)
		delete(h.subs, ch)
	}
	if !h.closed {
		h.closed = true
		close(h.done)
	}
}
