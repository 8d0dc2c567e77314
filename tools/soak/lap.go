package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"mimamori/core"
)

// dedupLaps measures what the erasure proofs of a full-size ring cost
// core, without the ring: blocks erased in laps, each block once per lap
// in the order a ring erases them (oldest first, which after the first
// lap is block order), 8 blocks a second spread over the cameras, through
// Store.RecordErasures (what RecordErasure does per block, one commit per
// batch) with core's machine tick. It reports mimamori.db after each lap:
// before schema 4 the erased_blocks deduplication bucket held one key per
// ring block (344 MiB of pages at 5.3 M blocks); now a window of the last
// erasures, whatever the ring's size.
func dedupLaps(p params, blocks, laps int, log *slog.Logger) error {
	dir, err := os.MkdirTemp("", "mimamori-soak-dedup-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "mimamori.db")
	clk := &simClock{wall: p.Start, mono: time.Hour}
	st, err := core.Open(path, core.Options{Now: clk.Now, Logger: log, Policy: p.Policy, ManualTick: true, NoSync: true})
	if err != nil {
		return err
	}
	perSecond := float64(p.Cameras) / float64(p.BlockSeconds) // blocks erased a second at the full rate
	const batch = 512
	footage := p.Start.Add(-7 * 24 * time.Hour)
	blockDur := time.Duration(p.BlockSeconds) * time.Second
	t0 := time.Now()
	for lap := range laps {
		es := make([]core.Erasure, 0, batch)
		for b := 0; b < blocks; b++ {
			cam := b % p.Cameras
			from := footage.Add(time.Duration(b/p.Cameras) * blockDur)
			es = append(es, core.Erasure{Camera: cameraID(cam), From: from, To: from.Add(blockDur), ErasedAt: clk.Now(),
				Block: uint32(b), Generation: uint64(1)<<32 + uint64(lap), Bytes: p.RealBlock, Reason: "retention"})
			if len(es) == batch || b == blocks-1 {
				if err := st.RecordErasures(es); err != nil {
					st.Close()
					return err
				}
				clk.Advance(time.Duration(float64(len(es)) / perSecond * float64(time.Second)))
				st.TickMachineRecords()
				es = es[:0]
			}
		}
		footage = footage.Add(time.Duration(blocks/p.Cameras) * blockDur)
		fmt.Printf("dedup: lap %d of %d blocks: mimamori.db %s MiB (%s)\n", lap+1, blocks, mib(fileSize(path)),
			time.Since(t0).Round(time.Second))
	}
	if err := st.Close(); err != nil {
		return err
	}
	r, err := bucketReport(path)
	if err != nil {
		return err
	}
	fmt.Print(r)
	return nil
}
