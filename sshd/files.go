package sshd

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/charmbracelet/ssh"
	"github.com/charmbracelet/wish/scp"
	"github.com/pkg/sftp"

	"mimamori/core"
)

// Export packages leave over the same SSH service (000 §9-4, 001 §5-2):
// scp (the legacy protocol, through wish's scp middleware) and sftp
// (the subsystem OpenSSH's scp also uses by default, through pkg/sftp),
// read-only, restricted to the packages core says the appliance holds in
// export_dir, for managers and operators only. The client sees export_dir
// as "/" holding the package files and nothing else. Each fetch is
// ledgered when its file is closed, with the bytes served and the SHA-256
// of what was served.

// EnableFileTransfer adds scp and sftp of export packages to o.
func EnableFileTransfer(o *Options) {
	o.Commands = append(o.Commands, Command{Name: "scp", Usage: "(run by scp: scp HOST:PACKAGE .)",
		Summary: "fetch an export package with scp (read-only)", SummaryJa: "scp で書出しパッケージを取り出す（読み取りのみ）",
		Run: runSCP, Access: access(core.ActionExportFetch, nil)})
	o.ServerOptions = append(o.ServerOptions, func(srv *ssh.Server) error {
		h := srv.Handler // the whole middleware chain: auth, session cap, login ledger
		if srv.SubsystemHandlers == nil {
			srv.SubsystemHandlers = map[string]ssh.SubsystemHandler{}
		}
		srv.SubsystemHandlers["sftp"] = func(sess ssh.Session) { h(sess) }
		return nil
	})
}

// maxFetchOpens bounds the files one session may open: every fetch is a
// ledger entry, and a client looping over opens must not flood it.
const maxFetchOpens = 64

// runSubsystem serves an SSH subsystem: sftp only.
func (s *Server) runSubsystem(sess ssh.Session, info Info, sessionID string) int {
	if sess.Subsystem() != "sftp" {
		fmt.Fprintln(sess.Stderr(), "mimamori: unknown subsystem")
		return ExitError
	}
	env := &Env{Ctx: sess.Context(), Actor: info.Actor, Core: s.o.Core, Stdin: sess, Stdout: sess, Stderr: sess.Stderr(),
		Lang: info.Lang, Location: info.Location, Logger: info.Logger, Now: s.o.Now, Session: sess, SessionID: sessionID,
		Remote: info.Remote, ExportDir: s.o.ExportDir, ApplianceKey: s.hostFP}
	return runSFTP(env)
}

// fetcher is one session's access to the packages.
type fetcher struct {
	env      *Env
	protocol string
	mu       sync.Mutex
	opens    int
}

func newFetcher(env *Env, protocol string) (*fetcher, error) {
	// The role first: technicians and viewers get nothing (core ledgers it).
	if _, err := env.Core.ExportPackages(env.Actor); err != nil {
		return nil, err
	}
	if env.ExportDir == "" {
		return nil, fmt.Errorf("%w: no export_dir is configured", core.ErrUnavailable)
	}
	return &fetcher{env: env, protocol: protocol}, nil
}

var errRefused = errors.New("refused: only the export packages in export_dir can be read")

// name turns a client path into a package file name, or refuses it (and
// ledgers the refusal): export_dir is the client's "/", so a path may be
// "NAME" or "/NAME" and nothing else.
func (f *fetcher) name(p string) (string, error) {
	raw := p
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			f.env.Core.RefuseFetch(f.env.Actor, raw, "path with ..")
			return "", errRefused
		}
	}
	p = path.Clean("/" + p)
	name := strings.TrimPrefix(p, "/")
	if name == "" || strings.Contains(name, "/") || strings.HasPrefix(name, ".") {
		f.env.Core.RefuseFetch(f.env.Actor, raw, "outside export_dir")
		return "", errRefused
	}
	return name, nil
}

// open opens a held package for reading, refusing symlinks and anything
// but a regular file of the recorded size.
func (f *fetcher) open(p string) (*servedFile, error) {
	name, err := f.name(p)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.opens++
	n := f.opens
	f.mu.Unlock()
	if n > maxFetchOpens {
		f.env.Core.RefuseFetch(f.env.Actor, name, "too many files in one session")
		return nil, errRefused
	}
	pkg, err := f.env.Core.ExportPackageByName(f.env.Actor, name)
	if err != nil {
		return nil, errRefused
	}
	file, err := os.OpenFile(filepath.Join(f.env.ExportDir, name), os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			f.env.Core.RefuseFetch(f.env.Actor, name, "symlink")
			return nil, errRefused
		}
		return nil, err
	}
	fi, err := file.Stat()
	if err != nil || !fi.Mode().IsRegular() || (pkg.Bytes > 0 && fi.Size() != pkg.Bytes) {
		file.Close()
		f.env.Core.RefuseFetch(f.env.Actor, name, "not the package file that was written")
		return nil, errRefused
	}
	return &servedFile{f: file, fi: fi, pkg: pkg, fetch: f, started: f.env.Now().UTC(), h: sha256.New()}, nil
}

// list is what the client may see in "/": the held packages present as
// regular files.
func (f *fetcher) list() ([]os.FileInfo, error) {
	ps, err := f.env.Core.ExportPackages(f.env.Actor)
	if err != nil {
		return nil, err
	}
	var out []os.FileInfo
	for _, p := range ps {
		if filepath.Dir(p.Path) != filepath.Clean(f.env.ExportDir) {
			continue
		}
		if fi, err := os.Lstat(p.Path); err == nil && fi.Mode().IsRegular() {
			out = append(out, fileInfo{name: p.Name, size: fi.Size(), mod: fi.ModTime()})
		}
	}
	return out, nil
}

// servedFile is a package being read: it ledgers the start of the fetch
// before the first byte leaves, counts the bytes served and hashes them in
// file order, and ledgers the end of the fetch when closed.
//
// Clients may read out of order (sftp pipelines its reads). Nothing is
// buffered for that: a range served ahead of the hashed prefix is only
// noted, and its bytes are read again from the same open file when the
// prefix reaches it. A client reading in more than maxAhead scattered
// pieces is not hashed at all (complete stays false).
type servedFile struct {
	f       *os.File
	fi      os.FileInfo
	pkg     core.ExportPackage
	fetch   *fetcher
	started time.Time

	begin    sync.Once
	beginErr error

	mu       sync.Mutex
	pos      int64 // for Read (scp)
	served   int64
	next     int64 // bytes [0, next) hashed in file order
	h        hash.Hash
	ahead    []span // served beyond next: sorted, disjoint, not touching
	unhashed bool   // served in too many pieces to hash
	begun    bool   // the start is on record: the end must be too
	closed   bool
}

// span is the bytes [from, to) of a file.
type span struct{ from, to int64 }

// maxAhead bounds the pieces noted ahead of the hashed prefix per file.
const maxAhead = 1024

func (sf *servedFile) record() core.FetchRecord {
	env := sf.fetch.env
	return core.FetchRecord{Name: sf.pkg.Name, RequestID: sf.pkg.RequestID, Protocol: sf.fetch.protocol,
		Started: sf.started, Session: env.SessionID, PackageSHA256: sf.pkg.SHA256}
}

func (sf *servedFile) ReadAt(b []byte, off int64) (int, error) {
	// The ledger first: no byte leaves before the fetch is on record.
	sf.begin.Do(func() {
		env := sf.fetch.env
		sf.beginErr = env.Core.BeginFetch(env.Actor, sf.record())
		sf.mu.Lock()
		sf.begun = sf.beginErr == nil
		sf.mu.Unlock()
		if sf.beginErr != nil {
			env.Logger.Error("cannot ledger the start of a fetch; nothing served", "name", sf.pkg.Name, "err", sf.beginErr)
		}
	})
	if sf.beginErr != nil {
		return 0, sf.beginErr
	}
	n, err := sf.f.ReadAt(b, off)
	sf.account(b[:n], off)
	return n, err
}

func (sf *servedFile) Read(b []byte) (int, error) {
	sf.mu.Lock()
	off := sf.pos
	sf.mu.Unlock()
	n, err := sf.ReadAt(b, off)
	sf.mu.Lock()
	sf.pos += int64(n)
	sf.mu.Unlock()
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

func (sf *servedFile) account(b []byte, off int64) {
	if len(b) == 0 {
		return
	}
	sf.mu.Lock()
	defer sf.mu.Unlock()
	sf.served += int64(len(b))
	end := off + int64(len(b))
	switch {
	case sf.unhashed || end <= sf.next: // not hashed, or a re-read of what was
	case off <= sf.next:
		sf.h.Write(b[sf.next-off:])
		sf.next = end
		sf.catchUp()
	default:
		sf.ahead = addSpan(sf.ahead, span{off, end})
		if len(sf.ahead) > maxAhead {
			sf.unhashed, sf.ahead = true, nil
		}
	}
}

// catchUp hashes the ranges served ahead that the prefix now reaches,
// reading their bytes again from the file (caller holds mu).
func (sf *servedFile) catchUp() {
	var buf []byte
	for len(sf.ahead) > 0 && sf.ahead[0].from <= sf.next {
		sp := sf.ahead[0]
		sf.ahead = sf.ahead[1:]
		if sp.to <= sf.next {
			continue
		}
		if buf == nil {
			buf = make([]byte, 64<<10)
		}
		n, err := io.CopyBuffer(sf.h, io.NewSectionReader(sf.f, sf.next, sp.to-sf.next), buf)
		sf.next += n
		if err != nil || sf.next != sp.to {
			sf.unhashed, sf.ahead = true, nil
			return
		}
	}
}

// addSpan adds sp to the sorted, disjoint spans ss, merging what it
// overlaps or touches.
func addSpan(ss []span, sp span) []span {
	i := sort.Search(len(ss), func(i int) bool { return ss[i].to >= sp.from })
	j := i
	for j < len(ss) && ss[j].from <= sp.to {
		sp.from, sp.to = min(sp.from, ss[j].from), max(sp.to, ss[j].to)
		j++
	}
	if i == j {
		ss = append(ss, span{})
		copy(ss[i+1:], ss[i:])
		ss[i] = sp
		return ss
	}
	ss[i] = sp
	return append(ss[:i+1], ss[j:]...)
}

// Close ledgers the end of the fetch (if its start was ledgered) and
// closes the file.
func (sf *servedFile) Close() error {
	sf.mu.Lock()
	if sf.closed {
		sf.mu.Unlock()
		return nil
	}
	sf.closed = true
	begun := sf.begun
	rec := sf.record()
	rec.Bytes = sf.served
	rec.Complete = !sf.unhashed && sf.next >= sf.fi.Size()
	sum := hex.EncodeToString(sf.h.Sum(nil))
	if rec.Complete {
		rec.SHA256 = sum
	} else if !sf.unhashed && sf.next > 0 {
		rec.PrefixBytes, rec.PrefixSHA256 = sf.next, sum
	}
	sf.mu.Unlock()
	err := sf.f.Close()
	if !begun {
		return err
	}
	env := sf.fetch.env
	rec.Ended = env.Now().UTC()
	if lerr := env.Core.RecordFetch(env.Actor, rec); lerr != nil {
		env.Logger.Error("cannot ledger a fetch", "name", rec.Name, "bytes", rec.Bytes, "err", lerr)
	}
	return err
}

// fileInfo describes a package (read-only) or the root directory.
type fileInfo struct {
	name string
	size int64
	mod  time.Time
	dir  bool
}

func (i fileInfo) Name() string { return i.name }
func (i fileInfo) Size() int64  { return i.size }
func (i fileInfo) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o555
	}
	return 0o444
}
func (i fileInfo) ModTime() time.Time { return i.mod }
func (i fileInfo) IsDir() bool        { return i.dir }
func (i fileInfo) Sys() any           { return nil }

// scp: wish's middleware over a read-only handler.

func runSCP(env *Env, args []string) int {
	if env.Session == nil {
		return env.UsageError("scp", "scp works only over SSH")
	}
	info := scp.GetInfo(env.Session.Command())
	f, err := newFetcher(env, "scp")
	if err != nil {
		return env.Fail(core.ActionExportFetch, err)
	}
	if info.Op != scp.OpCopyToClient {
		env.Core.RefuseFetch(env.Actor, info.Path, "write (the packages are read-only)")
		fmt.Fprintln(env.Stderr, env.T("scp: refused: export packages can only be read", "scp: 拒否: 書出しパッケージは読み取りのみです"))
		return ExitError
	}
	failed := false
	h := &scpHandler{f: f}
	scp.Middleware(h, nil)(func(ssh.Session) {})(&exitWatch{Session: env.Session, failed: &failed})
	if failed {
		return ExitError
	}
	// The sink's first "ready", then per file its answers to the T and C
	// lines and to the data.
	readAcks(env.Session, 1+3*h.files)
	return ExitOK
}

// scpAckWait bounds how long the end of an scp session waits for the
// client's last acknowledgements.
const scpAckWait = 10 * time.Second

// readAcks reads n responses of an scp sink (a 0 byte, or 1 or 2 and a
// message line), as a source does, bounded by scpAckWait. wish's source
// never reads them; were the exit status sent at once, the client's ssh
// could exit before scp wrote its last one, and scp would die of SIGPIPE
// ("lost connection", exit 1) after receiving every byte.
func readAcks(sess ssh.Session, n int) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		br := bufio.NewReaderSize(io.LimitReader(sess, 64<<10), 512)
		for ; n > 0; n-- {
			c, err := br.ReadByte()
			if err != nil {
				return
			}
			if c != 0 {
				if _, err := br.ReadString('\n'); err != nil {
					return
				}
			}
		}
	}()
	t := time.NewTimer(scpAckWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	case <-sess.Context().Done():
	}
}

// exitWatch notes that wish's middleware ended the session with an error.
type exitWatch struct {
	ssh.Session
	failed *bool
}

func (w *exitWatch) Exit(code int) error {
	if code != 0 {
		*w.failed = true
	}
	return nil // runSCP's caller sends the exit status
}

// Close is left to the session: it must stay open for the exit status.
func (w *exitWatch) Close() error { return nil }

type scpHandler struct {
	f     *fetcher
	files int // file entries sent
}

func (h *scpHandler) Glob(_ ssh.Session, p string) ([]string, error) {
	name, err := h.f.name(p)
	if err != nil {
		return nil, err
	}
	return []string{name}, nil
}

func (h *scpHandler) WalkDir(_ ssh.Session, p string, _ fs.WalkDirFunc) error {
	h.f.env.Core.RefuseFetch(h.f.env.Actor, p, "recursive copy")
	return errRefused
}

func (h *scpHandler) NewDirEntry(_ ssh.Session, p string) (*scp.DirEntry, error) {
	return nil, errRefused
}

func (h *scpHandler) NewFileEntry(_ ssh.Session, name string) (*scp.FileEntry, func() error, error) {
	sf, err := h.f.open(name)
	if err != nil {
		return nil, nil, err
	}
	h.files++
	mt := sf.fi.ModTime().Unix()
	return &scp.FileEntry{Name: sf.pkg.Name, Filepath: sf.pkg.Name, Mode: 0o444, Size: sf.fi.Size(), Reader: sf,
		Mtime: mt, Atime: mt}, sf.Close, nil
}

// sftp: pkg/sftp's request server over read-only handlers.

func runSFTP(env *Env) int {
	f, err := newFetcher(env, "sftp")
	if err != nil {
		return env.Fail(core.ActionExportFetch, err)
	}
	h := sftpHandlers{f}
	// The request server closes its stream when done; the session must
	// stay open to carry the exit status, so it gets a Close that does not.
	stream := struct {
		io.Reader
		io.Writer
		io.Closer
	}{env.Session, env.Session, io.NopCloser(nil)}
	srv := sftp.NewRequestServer(stream, sftp.Handlers{FileGet: h, FilePut: h, FileCmd: h, FileList: h})
	err = srv.Serve()
	_ = srv.Close()
	if err != nil && !errors.Is(err, io.EOF) {
		env.Logger.Debug("sftp ended", "err", err)
	}
	return ExitOK
}

type sftpHandlers struct{ f *fetcher }

func (h sftpHandlers) Fileread(r *sftp.Request) (io.ReaderAt, error) {
	sf, err := h.f.open(r.Filepath)
	if err != nil {
		return nil, sftp.ErrSSHFxPermissionDenied
	}
	return sf, nil
}

func (h sftpHandlers) Filewrite(r *sftp.Request) (io.WriterAt, error) {
	h.f.env.Core.RefuseFetch(h.f.env.Actor, r.Filepath, "write (the packages are read-only)")
	return nil, sftp.ErrSSHFxPermissionDenied
}

func (h sftpHandlers) Filecmd(r *sftp.Request) error {
	h.f.env.Core.RefuseFetch(h.f.env.Actor, r.Filepath, strings.ToLower(r.Method)+" (the packages are read-only)")
	return sftp.ErrSSHFxPermissionDenied
}

func (h sftpHandlers) Filelist(r *sftp.Request) (sftp.ListerAt, error) {
	switch r.Method {
	case "List":
		if path.Clean(r.Filepath) != "/" {
			return nil, os.ErrNotExist
		}
		fis, err := h.f.list()
		if err != nil {
			return nil, sftp.ErrSSHFxPermissionDenied
		}
		return listerAt(fis), nil
	case "Stat", "Lstat":
		if path.Clean(r.Filepath) == "/" {
			return listerAt{fileInfo{name: "/", dir: true, mod: time.Now()}}, nil
		}
		fis, err := h.f.list()
		if err != nil {
			return nil, sftp.ErrSSHFxPermissionDenied
		}
		for _, fi := range fis {
			if "/"+fi.Name() == path.Clean(r.Filepath) {
				return listerAt{fi}, nil
			}
		}
		return nil, os.ErrNotExist
	}
	h.f.env.Core.RefuseFetch(h.f.env.Actor, r.Filepath, strings.ToLower(r.Method))
	return nil, sftp.ErrSSHFxOpUnsupported
}

type listerAt []os.FileInfo

func (l listerAt) ListAt(out []os.FileInfo, off int64) (int, error) {
	if off >= int64(len(l)) {
		return 0, io.EOF
	}
	n := copy(out, l[off:])
	if off+int64(n) >= int64(len(l)) {
		return n, io.EOF
	}
	return n, nil
}
