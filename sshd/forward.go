package sshd

import (
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"

	"github.com/charmbracelet/ssh"
	gossh "golang.org/x/crypto/ssh"

	"mimamori/core"
	"mimamori/keys"
	"mimamori/ratelog"
)

// EnableViewing adds footage viewing to o: the "view" command, and local
// port forwarding (ssh -L) to exactly the playback address. Every other
// forward is refused, logged and ledgered. Call it after o.Core and
// o.Logger are set:
//
//	o := sshd.Options{Core: st, ...}
//	sshd.EnableViewing(&o, pb)
func EnableViewing(o *Options, pb Playback) {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "sshd")
	o.Commands = append(o.Commands, ViewCommand(pb))
	h := &forwarder{pb: pb, st: o.Core, log: log, rlog: ratelog.New(log, refusalLogInterval), refused: map[string]int{}}
	o.ServerOptions = append(o.ServerOptions, func(srv *ssh.Server) error {
		if srv.ChannelHandlers == nil {
			srv.ChannelHandlers = map[string]ssh.ChannelHandler{}
			for k, v := range ssh.DefaultChannelHandlers {
				srv.ChannelHandlers[k] = v
			}
		}
		srv.ChannelHandlers["direct-tcpip"] = h.handle
		return nil
	})
}

// maxLedgeredRefusals bounds the denied entries one connection can cause:
// a client looping over forwards must not flood the ledger.
const maxLedgeredRefusals = 3

// forwarder handles direct-tcpip channels.
type forwarder struct {
	pb  Playback
	st  *core.Store
	log *slog.Logger
	// rlog coalesces refusals' log lines (a client can loop over forwards).
	rlog *ratelog.Logger

	mu      sync.Mutex
	refused map[string]int // per connection (session hash), while it is open
}

// directTCPIP is the channel's extra data (RFC 4254 §7.2).
type directTCPIP struct {
	DestAddr   string
	DestPort   uint32
	OriginAddr string
	OriginPort uint32
}

func (f *forwarder) handle(_ *ssh.Server, _ *gossh.ServerConn, nc gossh.NewChannel, ctx ssh.Context) {
	var d directTCPIP
	if err := gossh.Unmarshal(nc.ExtraData(), &d); err != nil {
		_ = nc.Reject(gossh.ConnectionFailed, "malformed forward request")
		return
	}
	dest := net.JoinHostPort(d.DestAddr, strconv.FormatUint(uint64(d.DestPort), 10))
	remote := ""
	if a := ctx.RemoteAddr(); a != nil {
		remote = a.String()
	}
	// The key is looked up again: it may have been revoked or expired
	// since the handshake.
	pk, _ := ctx.Value(ssh.ContextKeyPublicKey).(ssh.PublicKey)
	if pk == nil {
		_ = nc.Reject(gossh.Prohibited, "not authenticated")
		return
	}
	actor, err := keys.Resolver{Keys: f.st}.Resolve(pk)
	if err != nil {
		f.rlog.Warn("forward refused: key not enrolled", "remote", remote, "dest", dest, "fingerprint", keys.Fingerprint(pk))
		_ = nc.Reject(gossh.Prohibited, "key not enrolled")
		return
	}
	if !f.pb.Accepts(d.DestAddr, d.DestPort) || !core.Allowed(actor.Role, core.ActionView) {
		f.rlog.Warn("forward refused", "actor", actor.Name, "role", actor.Role.String(), "remote", remote, "dest", dest)
		if f.countRefusal(ctx) <= maxLedgeredRefusals {
			if err := f.st.RecordForwardRefused(actor, dest); err != nil {
				f.rlog.Log(slog.LevelError, "cannot ledger refused forward", "err", err)
			}
		}
		why := "only the playback address " + f.pb.Addr() + " may be forwarded"
		if !core.Allowed(actor.Role, core.ActionView) {
			why = "role " + actor.Role.String() + " may not view footage"
		}
		_ = nc.Reject(gossh.Prohibited, why)
		return
	}
	ch, reqs, err := nc.Accept()
	if err != nil {
		return
	}
	go gossh.DiscardRequests(reqs)
	// The HTTP server gets one end of a pipe (real deadlines, which
	// net/http relies on) and the origin of the channel, so it can check
	// that a token is used through the connection it was minted for.
	local, remoteEnd := net.Pipe()
	if err := f.pb.ServeConn(remoteEnd, ctx.SessionID()); err != nil {
		_ = ch.Close()
		_ = local.Close()
		return
	}
	f.log.Debug("forward opened", "actor", actor.Name, "session", shortID(ctx.SessionID()), "from", net.JoinHostPort(d.OriginAddr, strconv.FormatUint(uint64(d.OriginPort), 10)))
	pump(ch, local, ctx.Done())
}

// countRefusal counts refused forwards of ctx's connection; the count is
// forgotten when the connection ends.
func (f *forwarder) countRefusal(ctx ssh.Context) int {
	id := ctx.SessionID()
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.refused[id] + 1
	f.refused[id] = n
	if n == 1 {
		go func() {
			<-ctx.Done()
			f.mu.Lock()
			delete(f.refused, id)
			f.mu.Unlock()
		}()
	}
	return n
}

// pump copies between the SSH channel and the HTTP server's pipe. The
// client's EOF does not end the exchange (a pipe cannot be half-closed and
// the response may still be flowing); it ends when the server side closes,
// a write to the client fails, or the SSH connection goes.
func pump(ch gossh.Channel, c net.Conn, connDone <-chan struct{}) {
	finished := make(chan struct{})
	var once sync.Once
	closeAll := func() {
		once.Do(func() {
			close(finished)
			_ = c.Close()
			_ = ch.Close()
		})
	}
	go func() {
		if _, err := io.Copy(c, ch); err != nil {
			closeAll() // the HTTP side is gone
		}
	}()
	go func() {
		_, _ = io.CopyBuffer(ch, c, make([]byte, 64<<10))
		closeAll()
	}()
	go func() {
		select {
		case <-connDone:
			closeAll()
		case <-finished:
		}
	}()
}
