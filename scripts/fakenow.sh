#!/bin/sh
# fakenow.sh DAYS [go test arguments...]: runs go test with the wall clock
# DAYS days ahead (negative: behind), to check that tests pass in any year
# (the date windows refuse dates too far from now). It overlays the
# standard library's time.Now (go test -overlay; GOFLAGS carries it to the
# go build that tests run for the binary); the monotonic clock is not
# shifted. Example: scripts/fakenow.sh 1096 ./... -count=1
set -eu
days=$1; shift
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
src=$(go env GOROOT)/src/time
awk '{print} /^func Now\(\) Time \{/ {innow=1} innow && /runtimeNow\(\)/ {print "\tsec += fakeNowOffset"; innow=0}' \
	"$src/time.go" >"$dir/time.go"
grep -q 'sec += fakeNowOffset' "$dir/time.go" || { echo "fakenow: time.Now not found in $src/time.go" >&2; exit 1; }
cat >"$dir/fakenow.go" <<'GO'
package time

var fakeNowOffset int64 = FAKENOW_SECONDS
GO
sed -i "s/FAKENOW_SECONDS/$((days * 86400))/" "$dir/fakenow.go"
printf '{"Replace":{"%s":"%s","%s":"%s"}}\n' "$src/time.go" "$dir/time.go" "$src/fakenow.go" "$dir/fakenow.go" >"$dir/overlay.json"
GOFLAGS="${GOFLAGS:-} -overlay=$dir/overlay.json" go test "$@"
