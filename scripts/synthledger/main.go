// Command synthledger writes a data directory whose mimamori.db holds a
// synthetic ledger of long operation (core.BuildSyntheticLedger: the
// steady-state mix of this release), plus a host key, so the programs
// users run can be measured on it:
//
//	go run ./scripts/synthledger --data /tmp/year --days 365 --cameras 64
//	time mimamori ledger verify --data /tmp/year
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"mimamori/core"
	"mimamori/keys"
)

func main() {
	data := flag.String("data", "", "data directory to create (must not hold a mimamori.db)")
	days := flag.Int("days", 365, "days of operation")
	cams := flag.Int("cameras", 64, "cameras (one erasure proof each per hour)")
	machine := flag.Int("machine", 200, "other machine entries per day")
	people := flag.Int("people", 100, "people's acts per day")
	flag.Parse()
	if *data == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := os.MkdirAll(*data, 0o700); err != nil {
		fail(err)
	}
	if _, _, _, err := keys.LoadOrCreateHostKey(*data); err != nil {
		fail(err)
	}
	start := time.Now()
	n, err := core.BuildSyntheticLedger(filepath.Join(*data, "mimamori.db"), core.SyntheticLedger{
		Start: time.Now().UTC().AddDate(0, 0, -*days), Days: *days, Cameras: *cams, MachinePerDay: *machine, PeoplePerDay: *people})
	if err != nil {
		fail(err)
	}
	fmt.Printf("%d entries in %s\n", n, time.Since(start).Round(time.Millisecond))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "synthledger:", err)
	os.Exit(1)
}
