package sshd

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"sync/atomic"

	"github.com/charmbracelet/ssh"
	gossh "golang.org/x/crypto/ssh"

	"mimamori/core"
)

// Channels (sessions and forwards) cost the server memory before any
// command runs, and an enrolled key of any role can open them:
//
//   - x/crypto/ssh gives every channel a fixed 2 MiB receive window and
//     keeps each incoming packet as its own allocation until it is read.
//     Input nobody reads (no command yet, or a command that ignores stdin),
//     sent one byte per packet, costs ~50 bytes of server memory per byte:
//     ~100 MiB per channel. So every channel's input is read at once into
//     a compact buffer; a client that gets more than maxChannelInput ahead
//     of the command (the largest stdin a command takes, a layout plan,
//     must fit while the login is being recorded), or over its key's or
//     the server's budget, loses the channel. The window no longer holds a
//     client back, the budget does. What the client sends as stderr
//     (extended data) means nothing to the server and is discarded.
//   - Channels are capped per connection, per key and in all (the last
//     ones only for managers), however many are opened without a command.
//   - Session requests are bounded: a few short environment variables,
//     terminal sizes clamped to maxTermCols × maxTermRows (the console draws
//     whole screens of the size the client claims).
//
// Worst case: unread input ≤ maxServerInput (one key: maxKeyInput), plus
// a few packets in flight per channel; channels ≤ MaxChannels.
const (
	DefaultMaxChannelsPerConn = 10 // as OpenSSH's MaxSessions
	DefaultMaxChannelsPerKey  = 16

	maxChannelInput = core.MaxLayoutPlanBytes + 1<<20
	maxKeyInput     = 16 << 20
	maxServerInput  = 64 << 20

	maxEnvVars     = 32
	maxEnvKeyLen   = 64
	maxEnvValueLen = 1024
	maxTermCols    = 1000
	maxTermRows    = 400
	maxTermNameLen = 64
)

var (
	errConnChannels  = errors.New("too many channels on this connection")
	errKeyChannels   = errors.New("too many channels for this key")
	errChannelsFull  = errors.New("too many channels; try again later")
	errInputOverflow = errors.New("more input than the command reads")
)

// guardChannels wraps every channel handler of srv (session, and
// direct-tcpip when viewing is enabled) with the caps and bounds above.
func (s *Server) guardChannels(srv *ssh.Server) {
	if srv.ChannelHandlers == nil {
		srv.ChannelHandlers = map[string]ssh.ChannelHandler{}
		for k, v := range ssh.DefaultChannelHandlers {
			srv.ChannelHandlers[k] = v
		}
	}
	subsystems := map[string]bool{}
	for name := range srv.SubsystemHandlers {
		subsystems[name] = true
	}
	for typ, h := range srv.ChannelHandlers {
		var filter func(in <-chan *gossh.Request, out chan<- *gossh.Request)
		if typ == "session" {
			filter = func(in <-chan *gossh.Request, out chan<- *gossh.Request) {
				filterSessionRequests(in, out, subsystems)
			}
		}
		srv.ChannelHandlers[typ] = s.guardChannel(filter, h)
	}
}

func (s *Server) guardChannel(filter func(<-chan *gossh.Request, chan<- *gossh.Request), h ssh.ChannelHandler) ssh.ChannelHandler {
	return func(srv *ssh.Server, conn *gossh.ServerConn, nc gossh.NewChannel, ctx ssh.Context) {
		tc, _ := ctx.Value(ctxKeyTracked).(*tracked)
		if tc == nil {
			_ = nc.Reject(gossh.Prohibited, "not authenticated")
			return
		}
		if err := s.conns.openChannel(tc); err != nil {
			s.log.Debug("channel refused", "remote", ctx.RemoteAddr().String(), "fingerprint", tc.fp, "type", nc.ChannelType(), "err", err)
			s.refusals.add(RefusedChannelCap)
			_ = nc.Reject(gossh.ResourceShortage, err.Error())
			return
		}
		var once sync.Once
		g := &guardedNewChannel{NewChannel: nc, filter: filter, budget: s.input, key: tc.fp,
			release: func() { once.Do(func() { s.conns.closeChannel(tc) }) }}
		h(srv, conn, g, ctx)
		if !g.decided.Load() {
			g.release() // the handler neither accepted nor rejected it
		}
	}
}

// guardedNewChannel hands the handler a guarded channel and filtered
// requests, and gives the channel's slot back when the channel ends.
type guardedNewChannel struct {
	gossh.NewChannel
	budget  *inputBudget
	key     string
	filter  func(<-chan *gossh.Request, chan<- *gossh.Request) // nil: pass all
	release func()
	decided atomic.Bool
}

func (g *guardedNewChannel) Reject(reason gossh.RejectionReason, message string) error {
	g.decided.Store(true)
	defer g.release()
	return g.NewChannel.Reject(reason, message)
}

func (g *guardedNewChannel) Accept() (gossh.Channel, <-chan *gossh.Request, error) {
	g.decided.Store(true)
	ch, reqs, err := g.NewChannel.Accept()
	if err != nil {
		g.release()
		return nil, nil, err
	}
	gc := newGuardedChannel(ch, g.budget, g.key)
	out := make(chan *gossh.Request)
	go func() {
		// x/crypto closes reqs when the channel is closed both ways:
		// what is still unread will never be, and the slot is free.
		defer g.release()
		defer gc.abandon()
		defer close(out)
		if g.filter == nil {
			for req := range reqs {
				out <- req
			}
			return
		}
		g.filter(reqs, out)
	}()
	return gc, out, nil
}

// filterSessionRequests passes a session's requests on, bounded: a few
// short environment variables, clamped terminal sizes. Window changes only
// reach the console: the SSH library hands each to a one-slot channel and
// waits until it is taken, and only the console takes them (a command's
// handler would also race the library, which rewrites the session's pty
// while handing it on). So a window change is held back (the latest one)
// until the session starts, passed on after a shell request, and answered
// but dropped for a command or subsystem. Which request starts a session
// follows the library: the first shell or exec, or a subsystem it has a
// handler for.
func filterSessionRequests(in <-chan *gossh.Request, out chan<- *gossh.Request, subsystems map[string]bool) {
	envs := 0
	started, console, pty := false, false, false
	var held *gossh.Request
	answer := func(r *gossh.Request, ok bool) {
		if r != nil && r.WantReply {
			_ = r.Reply(ok, nil)
		}
	}
	for req := range in {
		ok, starts := true, false
		switch req.Type {
		case "env":
			ok = !started && envs < maxEnvVars && envFits(req.Payload)
			if ok {
				envs++
			}
		case "pty-req":
			req.Payload, ok = clampPtyRequest(req.Payload)
			pty = pty || (ok && !started)
		case "window-change":
			req.Payload, ok = clampWindowChange(req.Payload)
			if ok && pty && !console {
				if started {
					answer(req, true) // a command draws no screen
				} else {
					answer(held, true)
					held = req
				}
				continue
			}
		case "shell", "exec":
			starts = !started
		case "subsystem":
			var p struct{ Value string }
			starts = !started && gossh.Unmarshal(req.Payload, &p) == nil && (subsystems[p.Value] || subsystems["default"])
		}
		if !ok {
			answer(req, false)
			continue
		}
		out <- req
		if starts {
			started, console = true, req.Type == "shell"
			if held != nil && console {
				out <- held
			} else {
				answer(held, true)
			}
			held = nil
		}
	}
}

func envFits(payload []byte) bool {
	var kv struct{ Key, Value string }
	if err := gossh.Unmarshal(payload, &kv); err != nil {
		return false
	}
	return kv.Key != "" && len(kv.Key) <= maxEnvKeyLen && len(kv.Value) <= maxEnvValueLen
}

// RFC 4254 §6.2 and §6.7.
type ptyRequestMsg struct {
	Term              string
	Columns, Rows     uint32
	WidthPx, HeightPx uint32
	Modes             string
}

type windowChangeMsg struct {
	Columns, Rows     uint32
	WidthPx, HeightPx uint32
}

func clampPtyRequest(payload []byte) ([]byte, bool) {
	var m ptyRequestMsg
	if err := gossh.Unmarshal(payload, &m); err != nil || len(m.Term) > maxTermNameLen {
		return payload, false
	}
	if m.Columns <= maxTermCols && m.Rows <= maxTermRows {
		return payload, true
	}
	m.Columns, m.Rows = min(m.Columns, maxTermCols), min(m.Rows, maxTermRows)
	m.WidthPx, m.HeightPx = 0, 0 // unknown at the clamped size
	return gossh.Marshal(m), true
}

func clampWindowChange(payload []byte) ([]byte, bool) {
	var m windowChangeMsg
	if err := gossh.Unmarshal(payload, &m); err != nil {
		return payload, false
	}
	if m.Columns <= maxTermCols && m.Rows <= maxTermRows {
		return payload, true
	}
	m.Columns, m.Rows = min(m.Columns, maxTermCols), min(m.Rows, maxTermRows)
	m.WidthPx, m.HeightPx = 0, 0
	return gossh.Marshal(m), true
}

// inputBudget is how much unread client input the server holds: per
// key and in all. A channel that would go over it is closed.
type inputBudget struct {
	perKey, total int

	mu    sync.Mutex
	byKey map[string]int
	used  int
}

func newInputBudget(perKey, total int) *inputBudget {
	return &inputBudget{perKey: perKey, total: total, byKey: map[string]int{}}
}

func (b *inputBudget) take(key string, n int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.byKey[key]+n > b.perKey || b.used+n > b.total {
		return false
	}
	b.byKey[key] += n
	b.used += n
	return true
}

// inUse is the unread input held in all.
func (b *inputBudget) inUse() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

func (b *inputBudget) give(key string, n int) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.byKey[key] -= n; b.byKey[key] <= 0 {
		delete(b.byKey, key)
	}
	b.used -= n
}

// guardedChannel reads the client's input as it arrives into a compact
// buffer (at most maxChannelInput bytes, within the key's and the
// server's budget); Read takes from that buffer. A client that sends more
// than that ahead of what the command has read loses the channel. The
// client's stderr is discarded as it arrives.
type guardedChannel struct {
	gossh.Channel
	budget *inputBudget
	key    string

	mu   sync.Mutex
	cond sync.Cond
	buf  bytes.Buffer
	err  error // io.EOF, the channel's error, or errInputOverflow
}

func newGuardedChannel(ch gossh.Channel, budget *inputBudget, key string) *guardedChannel {
	g := &guardedChannel{Channel: ch, budget: budget, key: key}
	g.cond.L = &g.mu
	go g.fill()
	go io.Copy(io.Discard, ch.Stderr()) //nolint:errcheck // ends with the channel
	return g
}

func (g *guardedChannel) fill() {
	p := make([]byte, 32<<10)
	for {
		n, err := g.Channel.Read(p)
		overflow := false
		g.mu.Lock()
		switch {
		case n > 0 && g.err == nil && (g.buf.Len()+n > maxChannelInput || !g.budget.take(g.key, n)):
			overflow = true
			g.err = errInputOverflow
			g.dropLocked()
		case n > 0 && g.err == nil:
			g.buf.Write(p[:n])
		}
		if err != nil && g.err == nil {
			g.err = err
		}
		if err != nil && err != io.EOF {
			g.dropLocked() // the channel is gone: nobody will read it
		}
		g.cond.Broadcast()
		g.mu.Unlock()
		if overflow {
			// Tell the client and close; what is still in flight is
			// read and dropped until the channel ends.
			_, _ = io.WriteString(g.Channel.Stderr(), "mimamori: "+errInputOverflow.Error()+"; channel closed\r\n")
			_ = g.Channel.Close()
		}
		if err != nil {
			return
		}
	}
}

// dropLocked forgets the unread input and gives its budget back.
func (g *guardedChannel) dropLocked() {
	g.budget.give(g.key, g.buf.Len())
	g.buf = bytes.Buffer{}
}

func (g *guardedChannel) Read(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for g.buf.Len() == 0 && g.err == nil {
		g.cond.Wait()
	}
	if g.buf.Len() > 0 {
		n, err := g.buf.Read(p)
		g.budget.give(g.key, n)
		if g.buf.Len() == 0 {
			g.buf = bytes.Buffer{} // do not keep a large backing array
		}
		return n, err
	}
	return 0, g.err
}

// abandon drops what is unread once the channel is gone.
func (g *guardedChannel) abandon() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.dropLocked()
	if g.err == nil {
		g.err = io.EOF
	}
	g.cond.Broadcast()
}

// Close drops what the command did not read.
func (g *guardedChannel) Close() error {
	g.abandon()
	return g.Channel.Close()
}
