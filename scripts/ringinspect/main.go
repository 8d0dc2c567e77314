// Command ringinspect opens a ring as the appliance would after a crash
// (recovery included) and prints, per camera, its recorded fragments and
// where its footage ends. scripts/ringlab.sh uses it to measure what a
// simulated power loss cost.
//
//	go run ./scripts/ringinspect --dir DATA_DIR --capacity BYTES [--block-size BYTES]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"time"

	"mimamori/recorder/ring"
)

func main() {
	dir := flag.String("dir", "", "data directory holding ring.dat, index.db and keys.dat")
	capacity := flag.Int64("capacity", 0, "storage.capacity in bytes")
	bs := flag.Int64("block-size", 4<<20, "storage.block_size in bytes")
	flag.Parse()
	if *dir == "" || *capacity == 0 {
		flag.Usage()
		os.Exit(2)
	}
	r, err := ring.Open(ring.Options{Dir: *dir, Capacity: *capacity, BlockSize: *bs})
	if err != nil {
		fmt.Fprintln(os.Stderr, "ringinspect:", err)
		os.Exit(1)
	}
	defer r.Close()
	var names []string
	for name := range r.Usages() {
		names = append(names, name)
	}
	sort.Strings(names)
	type camJSON struct {
		Camera    string `json:"camera"`
		Fragments int    `json:"fragments"`
		Bad       int    `json:"unreadable"`
		End       string `json:"end"`
		EndUnixNs int64  `json:"end_unix_ns"`
	}
	enc := json.NewEncoder(os.Stdout)
	for _, name := range names {
		refs, err := r.Fragments(name, time.Unix(0, 0), time.Now().Add(100*365*24*time.Hour))
		if err != nil {
			fmt.Fprintln(os.Stderr, "ringinspect:", err)
			os.Exit(1)
		}
		out := camJSON{Camera: name, Fragments: len(refs)}
		for _, f := range refs {
			if _, err := r.ReadFragment(f); err != nil {
				out.Bad++
			}
			if end := f.Start.Add(f.Duration); end.UnixNano() > out.EndUnixNs {
				out.EndUnixNs, out.End = end.UnixNano(), end.UTC().Format(time.RFC3339Nano)
			}
		}
		_ = enc.Encode(out)
	}
}
