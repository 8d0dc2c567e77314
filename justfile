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
