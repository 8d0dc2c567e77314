package main

import (
	"fmt"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bucketReport lists what each top-level bucket of a closed bbolt file
// holds (keys and bytes in use, nested buckets included): which record
// grows, and how big it is.
func bucketReport(path string) (string, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return "", err
	}
	defer db.Close()
	type row struct {
		name               string
		keys, bytes, alloc int
	}
	var rows []row
	var fileUsed int
	err = db.View(func(tx *bolt.Tx) error {
		fileUsed = int(tx.Size())
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			st := b.Stats()
			rows = append(rows, row{string(name), st.KeyN, st.BranchInuse + st.LeafInuse, st.BranchAlloc + st.LeafAlloc})
			return nil
		})
	})
	if err != nil {
		return "", err
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].alloc > rows[j].alloc })
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s: %s MiB file, %s MiB up to the high-water mark\n", path, mib(fileSize(path)), mib(int64(fileUsed)))
	for _, r := range rows {
		if r.keys == 0 && r.bytes == 0 {
			continue
		}
		per := 0.0
		if r.keys > 0 {
			per = float64(r.bytes) / float64(r.keys)
		}
		fmt.Fprintf(&sb, "  %-16s %10d keys %9s MiB in use %9s MiB in pages  %6.1f B/key in use\n", r.name, r.keys,
			mib(int64(r.bytes)), mib(int64(r.alloc)), per)
	}
	return sb.String(), nil
}
