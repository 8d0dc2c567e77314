# mimamori — common tasks. `just --list` shows them.

# Run the appliance with a config file: `just run path/to/mimamori.yaml`.
run config="mimamori.yaml":
    go run . serve --config {{config}}

# Simulated cameras + appliance + demo keys; prints the ssh lines.
demo:
    go run . demo

# Tests with the race detector.
test:
    go test -race ./...

# Formatting and vet.
lint:
    test -z "$(gofmt -l .)" || (gofmt -l . && false)
    go vet ./...

# Every benchmark, one pass.
bench:
    go test -run '^$' -bench . -benchmem ./...

# The recorder benchmark (many cameras; slow).
bench-recorder:
    go test -run '^$' -bench BenchmarkRecorder -benchtime 1x -timeout 30m ./recorder/

# Build the binary.
build:
    go build -o mimamori .

# Issue 9's wrapping run: the real binary, 16 cameras, 256 MiB ring, 2 minutes;
# checks the erasure entries against the recording index's history.
wrap-test:
    MIMAMORI_WRAP_FULL=1 go test -count=1 -run TestWrappingRingErasureProofs -v -timeout 10m .

# Issue 9's soak: a year of 64 cameras × 4 Mbit/s written through the real ring,
# index and core on a simulated clock, measured per simulated day (CSV in docs/),
# then the manager console's keypress benchmark on the year-old data directory,
# twice (the first run opens after the catch-up sweep). 64 MiB blocks and 60-s
# fragments: the same ledger and about the same blocks and erasures per hour (30
# a camera-hour, 27 with 1-s ones), a 60th of the index entries (docs/soak.md
# says what that does not show). About an hour at load 5–10 on 2 cores and
# ~23 GB under $TMPDIR (removed after).
# Shorter: `just soak 30`, or pass flags: `just soak 7 -cameras 16`.
soak days="365" *flags="":
    #!/usr/bin/env bash
    set -euo pipefail
    dir=$(mktemp -d "${TMPDIR:-/var/tmp}/mimamori-soak.XXXXXX")
    trap 'rm -rf "$dir"' EXIT
    go run ./tools/soak -days {{days}} -block-size 67108864 -fragment-seconds 60 -sync-every 60 -sweep-every 60 -export-sweep-every 600 -progress -keep -dir "$dir" -csv docs/soak-{{days}}d.csv {{flags}}
    for run in 1 2; do
        MIMAMORI_SOAK_DIR="$dir" go test -run '^$' -bench BenchmarkConsoleKeypressSoak -benchtime 1x -timeout 30m ./appliance/
    done
