package main

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"mimamori/core"
)

// dayRow is one simulated day's measurements (a CSV row).
type dayRow struct {
	Day  int
	Date string
	Real time.Duration // wall time the simulated day took

	Entries       int // ledger entries written that day
	Erasure       int
	EventState    int // recording events written as a state change (first event of a window)
	EventSummary  int // 10-minute summaries with counts
	MachineOther  int
	People        int
	ByAction      map[string]int
	EventsSent    uint64 // RecordEvent calls that day (what the recorder reported)
	ErasedBlocks  uint64 // RecordErasure calls that day (blocks the ring proved erased)
	Fragments     uint64 // fragments appended that day (index entries written)
	LedgerEntries uint64 // the ledger's size at the end of the day

	DBBytes     int64
	IndexBytes  int64
	KeysBytes   int64
	VerifyTime  time.Duration // full verification (Store.VerifyLedger: the streaming pass offline verify runs)
	OfflineTime time.Duration // VerifyLedgerFile on the stopped appliance's file (restart days and the end)
	StandingP50 time.Duration // the console's standing check, every 10 simulated minutes
	StandingP99 time.Duration
	StandingMax time.Duration
	RSS         int64
	RSSAnon     int64
	RSSFile     int64
	HeapInuse   uint64
	HeapLive    uint64 // after a forced GC: what is really kept
	FreeBlocks  int
	Notes       []string
}

var csvHeader = []string{"day", "date", "real_s", "entries", "erasure", "event_state", "event_summary", "machine_other",
	"people", "recorder_events", "erased_blocks", "fragments", "ledger_size", "mimamori_db_mib", "index_db_mib", "keys_dat_mib",
	"verify_ms", "offline_verify_ms", "standing_p50_us", "standing_p99_us", "standing_max_us", "rss_mib", "rss_anon_mib", "rss_file_mib",
	"heap_inuse_mib", "heap_live_mib", "free_blocks", "by_action", "notes"}

func mib(n int64) string { return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) }

func ms(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64)
}

func us(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Microsecond), 'f', 0, 64)
}

func (r dayRow) record() []string {
	acts := make([]string, 0, len(r.ByAction))
	for a, n := range r.ByAction {
		acts = append(acts, a+"="+strconv.Itoa(n))
	}
	sort.Strings(acts)
	return []string{strconv.Itoa(r.Day), r.Date, strconv.FormatFloat(r.Real.Seconds(), 'f', 1, 64),
		strconv.Itoa(r.Entries), strconv.Itoa(r.Erasure), strconv.Itoa(r.EventState), strconv.Itoa(r.EventSummary),
		strconv.Itoa(r.MachineOther), strconv.Itoa(r.People), strconv.FormatUint(r.EventsSent, 10),
		strconv.FormatUint(r.ErasedBlocks, 10), strconv.FormatUint(r.Fragments, 10), strconv.FormatUint(r.LedgerEntries, 10),
		mib(r.DBBytes), mib(r.IndexBytes), mib(r.KeysBytes), ms(r.VerifyTime), ms(r.OfflineTime),
		us(r.StandingP50), us(r.StandingP99), us(r.StandingMax), mib(r.RSS), mib(r.RSSAnon), mib(r.RSSFile), mib(int64(r.HeapInuse)),
		mib(int64(r.HeapLive)), strconv.Itoa(r.FreeBlocks), strings.Join(acts, ";"), strings.Join(r.Notes, "; ")}
}

type csvOut struct {
	f *os.File
	w *csv.Writer
}

func newCSV(path string) (*csvOut, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	c := &csvOut{f: f, w: csv.NewWriter(f)}
	return c, c.write(csvHeader)
}

func (c *csvOut) write(rec []string) error {
	if c == nil {
		return nil
	}
	if err := c.w.Write(rec); err != nil {
		return err
	}
	c.w.Flush()
	return c.w.Error()
}

func (c *csvOut) close() error {
	if c == nil {
		return nil
	}
	c.w.Flush()
	return c.f.Close()
}

// countLedger classifies the entries after seq `after` and returns the
// last seq read.
func countLedger(st *core.Store, reader core.Actor, after uint64, row *dayRow, show func(core.Entry)) (uint64, error) {
	row.ByAction = map[string]int{}
	for {
		es, err := st.LedgerShown(reader, after+1, 10000, core.ShowAll)
		if err != nil {
			return after, err
		}
		if len(es) == 0 {
			return after, nil
		}
		for _, e := range es {
			after = e.Seq
			row.Entries++
			key := string(e.Action)
			switch {
			case e.Action == core.ActionErasure:
				row.Erasure++
				if show != nil {
					show(e)
				}
			case e.Action == core.ActionRecordingEvent:
				kind := e.Details["kind"]
				if kind == "summary" {
					row.EventSummary++
				} else {
					row.EventState++
				}
				key += ":" + kind
			case core.ClassOf(e.Action) == core.ClassMachine:
				row.MachineOther++
			default:
				row.People++
			}
			row.ByAction[key]++
		}
	}
}

// memory reads the process's resident set from /proc (anon: heap and
// stacks; file: mapped files, i.e. the bbolt databases' pages touched).
func memory(row *dayRow) {
	f, err := os.Open("/proc/self/status")
	if err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 2 {
				continue
			}
			kb, _ := strconv.ParseInt(fields[1], 10, 64)
			switch fields[0] {
			case "VmRSS:":
				row.RSS = kb << 10
			case "RssAnon:":
				row.RSSAnon = kb << 10
			case "RssFile:":
				row.RSSFile = kb << 10
			}
		}
		f.Close()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	row.HeapInuse = ms.HeapInuse
	runtime.GC()
	runtime.ReadMemStats(&ms)
	row.HeapLive = ms.HeapAlloc
}

// percentiles summarises timings: p50, p99, max.
func percentiles(ds []time.Duration) (time.Duration, time.Duration, time.Duration) {
	if len(ds) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2], s[(len(s)-1)*99/100], s[len(s)-1]
}

func (r dayRow) line() string {
	return fmt.Sprintf("day %3d %s  %5.1fs  entries %5d (erasure %4d, events %3d+%3d, people %3d, other %d)  db %s MiB  index %s MiB  verify %s ms  standing p50 %s p99 %s max %s µs  rss %s MiB (anon %s, heap live %s)  %s",
		r.Day, r.Date, r.Real.Seconds(), r.Entries, r.Erasure, r.EventState, r.EventSummary, r.People, r.MachineOther,
		mib(r.DBBytes), mib(r.IndexBytes), ms(r.VerifyTime), us(r.StandingP50), us(r.StandingP99), us(r.StandingMax), mib(r.RSS), mib(r.RSSAnon),
		mib(int64(r.HeapLive)), strings.Join(r.Notes, "; "))
}
