package deploy

import (
	"bufio"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// runtimeSyscalls are what `mimamori serve` called under strace with two
// cameras, a console login, a backup, a scrape and `health` (Go runtime,
// net, bbolt's flock and mmap, the ring's pwrite/fdatasync).
var runtimeSyscalls = strings.Fields(`accept4 access arch_prctl bind brk clock_gettime clone3 close
connect epoll_create1 epoll_ctl epoll_pwait eventfd2 execve fcntl fdatasync flock fstat fstatfs
futex getdents64 getpeername getpid getrandom getsockname getsockopt gettid ioctl listen lseek
madvise mmap mprotect munmap nanosleep newfstatat openat prctl pread64 prlimit64 pwrite64 pwritev
read readlinkat rseq rt_sigaction rt_sigprocmask rt_sigreturn sched_getaffinity sched_yield
set_robust_list set_tid_address setsockopt sigaltstack socket statfs tgkill uname unlinkat write`)

// unixSyscalls maps each golang.org/x/sys/unix function the appliance
// calls to the system calls it makes on linux/amd64 and arm64. A new call
// in the source must be added here, so the unit is checked for it.
var unixSyscalls = map[string][]string{
	"Adjtimex":     {"adjtimex"}, // read-only (modes 0): is NTP in sync (ring time)
	"ClockGettime": {"clock_gettime"},
	"Fallocate":    {"fallocate"},
	"Fdatasync":    {"fdatasync"},
	"Fsync":        {"fsync"},
	"Pwritev":      {"pwritev"},
	"Stat":         {"newfstatat"},
	"Statfs":       {"statfs"},
	"Fstatfs":      {"fstatfs"},
	"Syscall":      {"madvise"}, // only SYS_MADVISE: the ring drops index.db pages it read at open
}

// unixCalls lists the x/sys/unix functions the module's non-test code calls.
func unixCalls(t *testing.T) map[string]string {
	t.Helper()
	calls := map[string]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir("..", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || strings.HasPrefix(d.Name(), "zz_") || d.Name() == "testdata") && p != ".." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			return err
		}
		alias := ""
		for _, imp := range f.Imports {
			if path, _ := strconv.Unquote(imp.Path.Value); path == "golang.org/x/sys/unix" {
				alias = "unix"
				if imp.Name != nil {
					alias = imp.Name.Name
				}
			}
		}
		if alias == "" {
			return nil
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if c, ok := n.(*ast.CallExpr); ok {
				if sel, ok := c.Fun.(*ast.SelectorExpr); ok {
					if id, ok := sel.X.(*ast.Ident); ok && id.Name == alias {
						calls[sel.Sel.Name] = fset.Position(c.Pos()).String()
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return calls
}

// syscallGroups expands systemd's named groups (@system-service, ...) with
// systemd-analyze's own table.
func syscallGroups(t *testing.T, analyze string) map[string][]string {
	t.Helper()
	out, ok := run(t, ".", analyze, "syscall-filter")
	if !ok {
		t.Fatalf("systemd-analyze syscall-filter:\n%s", out)
	}
	groups := map[string][]string{}
	cur := ""
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "" || strings.HasPrefix(trimmed, "#"):
		case strings.HasPrefix(line, "@"):
			cur = trimmed
		case cur != "":
			groups[cur] = append(groups[cur], trimmed)
		}
	}
	return groups
}

func expand(groups map[string][]string, names []string, into map[string]bool, add bool) {
	for _, n := range names {
		if strings.HasPrefix(n, "@") {
			expand(groups, groups[n], into, add)
			continue
		}
		into[n] = add
	}
}

// The system calls serve makes are all allowed by the unit's seccomp
// filter and the filters its other settings imply (ProtectClock=yes
// denies @clock, adjtimex included, even read-only). A call the unit
// refuses fails with EPERM in the field and nowhere in a test.
func TestSystemdUnitAllowsServesSyscalls(t *testing.T) {
	analyze := tool(t, "systemd-analyze", "systemd")
	groups := syscallGroups(t, analyze)
	if len(groups["@system-service"]) == 0 {
		t.Skip("this systemd-analyze prints no syscall groups")
	}
	svc := unit(t)["Service"]

	// The filter, in the unit's order: an allow list first, then "~"
	// entries remove and plain entries add (systemd.exec(5)).
	allowed := map[string]bool{}
	allowList := false
	for i, line := range svc["SystemCallFilter"] {
		deny := strings.HasPrefix(line, "~")
		names := strings.Fields(strings.TrimPrefix(line, "~"))
		if i == 0 {
			if deny {
				t.Skip("a deny-list filter: everything else is allowed")
			}
			allowList = true
		}
		expand(groups, names, allowed, !deny)
	}
	if !allowList {
		t.Fatal("no SystemCallFilter")
	}
	// What other settings deny whatever the filter says.
	for key, group := range map[string]string{"ProtectClock": "@clock", "PrivateDevices": "@raw-io",
		"ProtectKernelModules": "@module", "ProtectKernelLogs": "syslog"} {
		if v := svc[key]; len(v) > 0 && v[len(v)-1] == "yes" {
			expand(groups, []string{group}, allowed, false)
		}
	}

	need := map[string]string{}
	for _, s := range runtimeSyscalls {
		need[s] = "serve under strace"
	}
	for fn, at := range unixCalls(t) {
		sys, ok := unixSyscalls[fn]
		if !ok {
			t.Errorf("%s calls unix.%s: add the system calls it makes to unixSyscalls", at, fn)
			continue
		}
		for _, s := range sys {
			need[s] = at + " (unix." + fn + ")"
		}
	}
	var refused []string
	for s, why := range need {
		if !allowed[s] {
			refused = append(refused, s+" — "+why)
		}
	}
	sort.Strings(refused)
	for _, r := range refused {
		t.Errorf("the unit refuses %s", r)
	}
}
