package sshd

import (
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
		Run: runSCP})
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

// maxReorder bounds the out-of-order read data kept to hash what was
// served in file order (sftp clients pipeline reads).
const maxReorder = 16 << 20

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
	return &servedFile{f: file, fi: fi, pkg: pkg, fetch: f, started: f.env.Now().UTC(), h: sha256.New(),
		pending: map[int64][]byte{}}, nil
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

// servedFile is a package being read: it counts the bytes served and
// hashes them in file order, and ledgers the fetch when closed.
type servedFile struct {
	f       *os.File
	fi      os.FileInfo
	pkg     core.ExportPackage
	fetch   *fetcher
	started time.Time

	mu       sync.Mutex
	pos      int64 // for Read (scp)
	served   int64
	next     int64 // bytes hashed in order so far
	h        hash.Hash
	pending  map[int64][]byte
	held     int64
	unhashed bool // reads came too far out of order to hash as they went
	closed   bool
}

func (sf *servedFile) ReadAt(b []byte, off int64) (int, error) {
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
	sf.mu.Lock()
	defer sf.mu.Unlock()
	sf.served += int64(len(b))
	end := off + int64(len(b))
	switch {
	case end <= sf.next: // a re-read of what was hashed
	case off <= sf.next:
		sf.h.Write(b[sf.next-off:])
		sf.next = end
		for {
			c, ok := sf.pending[sf.next]
			if !ok {
				break
			}
			delete(sf.pending, sf.next)
			sf.held -= int64(len(c))
			sf.h.Write(c)
			sf.next += int64(len(c))
		}
	case !sf.unhashed:
		if sf.held+int64(len(b)) > maxReorder {
			sf.unhashed, sf.pending, sf.held = true, nil, 0
			return
		}
		sf.pending[off] = append([]byte(nil), b...)
		sf.held += int64(len(b))
	}
}

// Close ledgers the fetch (if anything was served) and closes the file.
func (sf *servedFile) Close() error {
	sf.mu.Lock()
	if sf.closed {
		sf.mu.Unlock()
		return nil
	}
	sf.closed = true
	size := sf.fi.Size()
	complete := sf.next >= size && !sf.unhashed
	sum := ""
	if complete {
		sum = hex.EncodeToString(sf.h.Sum(nil))
	}
	served := sf.served
	sf.mu.Unlock()
	if sf.unhashed && served >= size {
		// Served too far out of order to hash on the way: record the hash
		// of the file that was served from, once; whether every byte went
		// out is then not known, so complete stays false.
		h := sha256.New()
		if _, err := io.Copy(h, io.NewSectionReader(sf.f, 0, size)); err == nil {
			sum = hex.EncodeToString(h.Sum(nil))
		}
	}
	err := sf.f.Close()
	if served == 0 {
		return err
	}
	env := sf.fetch.env
	rec := core.FetchRecord{Name: sf.pkg.Name, RequestID: sf.pkg.RequestID, Protocol: sf.fetch.protocol, Bytes: served,
		SHA256: sum, Complete: complete, Started: sf.started, Ended: env.Now().UTC(), Session: env.SessionID}
	if lerr := env.Core.RecordFetch(env.Actor, rec); lerr != nil {
		env.Logger.Error("cannot ledger a fetch", "name", rec.Name, "bytes", served, "err", lerr)
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
	scp.Middleware(scpHandler{f}, nil)(func(ssh.Session) {})(&exitWatch{Session: env.Session, failed: &failed})
	if failed {
		return ExitError
	}
	return ExitOK
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

type scpHandler struct{ f *fetcher }

func (h scpHandler) Glob(_ ssh.Session, p string) ([]string, error) {
	name, err := h.f.name(p)
	if err != nil {
		return nil, err
	}
	return []string{name}, nil
}

func (h scpHandler) WalkDir(_ ssh.Session, p string, _ fs.WalkDirFunc) error {
	h.f.env.Core.RefuseFetch(h.f.env.Actor, p, "recursive copy")
	return errRefused
}

func (h scpHandler) NewDirEntry(_ ssh.Session, p string) (*scp.DirEntry, error) {
	return nil, errRefused
}

func (h scpHandler) NewFileEntry(_ ssh.Session, name string) (*scp.FileEntry, func() error, error) {
	sf, err := h.f.open(name)
	if err != nil {
		return nil, nil, err
	}
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
