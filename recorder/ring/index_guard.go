package ring

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Index transactions run guarded: bbolt panics on some damaged pages (a
// page whose header is not the type expected, an element whose offset or
// length points outside its page: an index or slice out of range) and a
// pointer beyond the mapping faults (SIGSEGV/SIGBUS). Open reads only what
// it must (checkIndex), so such a page can be met later, mid-recording;
// unguarded it killed serve, and every restart until someone looked. The
// guard turns it into an ErrCorrupt error for the one operation, counts
// it, raises the damaged-footage alert with what to do, and ledgers one
// "damaged" event per run. Recording goes on where its pages are sound:
// appends touch only each camera's last fragment page.
//
// Not covered: damage bbolt reads as valid data (the decoders check
// lengths, the payload's SHA-256 checks reads), a branch page looping back
// on itself (a cursor that never ends), and both meta pages lost (Open
// fails with bbolt's error).

// view is db.View, guarded.
func (r *Ring) view(fn func(*bolt.Tx) error) error { return r.guard(r.db.View, fn) }

// update is db.Update, guarded. A panic rolls the transaction back
// (bbolt's Update defers the rollback), so nothing of it is committed.
func (r *Ring) update(fn func(*bolt.Tx) error) error { return r.guard(r.db.Update, fn) }

func (r *Ring) guard(run func(func(*bolt.Tx) error) error, fn func(*bolt.Tx) error) (err error) {
	prev := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(prev)
		if x := recover(); x != nil {
			if !fromIndexData(x) {
				panic(x) // a bug, not damage: moving index.db aside would not fix it
			}
			err = r.indexFault(x)
		}
	}()
	return run(fn)
}

// fromIndexData reports whether the panic being recovered (called from
// the deferred function) was raised reading index.db's pages: in bbolt,
// or a bounds error or a fault on the mapping in this package's decoding
// of keys and values. Anything else (a nil map, a nil pointer, an
// explicit panic) is a bug and is not taken for damage.
func fromIndexData(x any) bool {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	panicking := false
	for {
		f, more := frames.Next()
		switch {
		case f.Function == "runtime.gopanic":
			panicking = true
		case !panicking || stdlib(f.Function):
			// the deferred function, then the runtime and the standard
			// library (bytes.Compare, encoding/binary) between the panic
			// and the code that called them
		default:
			return strings.HasPrefix(f.Function, "go.etcd.io/bbolt") ||
				(strings.HasPrefix(f.Function, "mimamori/recorder/ring.") && readError(x))
		}
		if !more {
			return false
		}
	}
}

// readError: an index or slice out of range, or a fault reading memory
// (SetPanicOnFault's error has the address).
func readError(x any) bool {
	if _, ok := x.(interface{ Addr() uintptr }); ok {
		return true
	}
	e, ok := x.(runtime.Error)
	return ok && strings.Contains(e.Error(), "out of range")
}

// stdlib: a function of the runtime or the standard library, whose
// import path's first element has no dot ("bytes.Compare",
// "internal/bytealg.Compare"); this module's is "mimamori".
func stdlib(fn string) bool {
	if strings.HasPrefix(fn, "mimamori/") {
		return false
	}
	first, _, _ := strings.Cut(fn, "/")
	if !strings.Contains(fn, "/") {
		first, _, _ = strings.Cut(fn, ".")
	}
	return !strings.Contains(first, ".")
}

// indexDamageAdvice is what a technician does about a damaged index.db.
const indexDamageAdvice = "Stop mimamori and move index.db aside: the ring then starts afresh and the footage it held " +
	"can no longer be read (docs/install.md)"

// indexFault records a damaged index page met by a transaction and
// returns the error for it. The first of a run is logged and ledgered;
// later ones are counted and logged by rate.
func (r *Ring) indexFault(x any) error {
	if r.opening {
		return indexStartError(x)
	}
	err := fmt.Errorf("%w: index.db is damaged (%v)", ErrCorrupt, x)
	r.statsMu.Lock()
	first := r.indexFaults == 0
	r.indexFaults++
	if first {
		r.indexFaultAt, r.indexFaultMsg = time.Now(), fmt.Sprint(x)
	}
	r.statsMu.Unlock()
	if first {
		r.log.Error("index.db is damaged: the operation that met it failed; recording goes on where the index is sound. "+
			indexDamageAdvice, "err", fmt.Sprint(x), "stack", string(debug.Stack()))
		r.event("", "damaged", map[string]string{"reason": "index.db is damaged: " + fmt.Sprint(x)})
	} else {
		r.errorByRate("index damaged", "index.db is damaged", "err", fmt.Sprint(x))
	}
	return err
}
