#!/usr/bin/env bash
# ringlab: measurements of the recorder's storage on a real file system of
# its own (ext4 on a loop device), with `mimamori serve` recording
# `mimamori simcam` cameras at 4 Mbit/s. Needs root, losetup, mkfs.ext4,
# fsfreeze, ssh, ssh-keygen, jq.
#
# Power loss: the appliance is stopped (SIGSTOP) mid-write and the loop
# device's backing image is copied at once. Page-cache data the appliance
# did not sync has not reached the loop device and is not in the copy;
# the copy is then mounted (journal replay) and the ring recovered, as
# after a power cut. (dm-flakey/dm-snapshot would freeze the device more
# exactly; this kernel has no device-mapper. Writeback of unsynced pages
# during the copy would only make the result look better: pages younger
# than vm.dirty_expire_centisecs, 30 s, are not written back unprompted.)
#
# Disk stall: fsfreeze on the file system blocks every write and sync.
#
#   scripts/ringlab.sh writeamp CAMERAS SECONDS   write amplification and CPU while the ring wraps
#   scripts/ringlab.sh powerloss RUNS CAMERAS     footage lost per camera on a simulated power loss
#   scripts/ringlab.sh stall SECONDS              `health` during a stalled disk
#   scripts/ringlab.sh diskfull SECONDS           the file system filled beside the ring, then freed
#   scripts/ringlab.sh eio SECONDS                the disk fails writes (EIO) under the file system
#
# Ports 20210 (RTSP) and 20222 (SSH) on 127.0.0.1 (RINGLAB_RTSP_PORT and
# RINGLAB_SSH_PORT override them). Results go to stdout;
# everything else is under a temporary directory removed at the end.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d /tmp/ringlab.XXXXXX)"
bin="$work/mimamori"
insp="$work/ringinspect"
rtsp=127.0.0.1:${RINGLAB_RTSP_PORT:-20210}
sshport=${RINGLAB_SSH_PORT:-20222}
mnt="$work/mnt"
pids=()

log() { echo "ringlab: $*" >&2; }

cleanup() {
    set +e
    for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null; kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    mountpoint -q "$mnt" && { fsfreeze -u "$mnt" 2>/dev/null; umount -l "$mnt"; }
    [ -n "${loop:-}" ] && losetup -d "$loop" 2>/dev/null
    mountpoint -q "$work/tfs" 2>/dev/null && umount -l "$work/tfs"
    rm -rf "$work"
}
trap cleanup EXIT

build() {
    (cd "$here" && go build -o "$bin" . && go build -o "$insp" ./scripts/ringinspect)
}

# mkfs_loop SIZE_MB: an ext4 file system on a loop device, at $mnt.
mkfs_loop() {
    truncate -s "${1}M" "$work/disk.img"
    loop="$(losetup -f --show "$work/disk.img")"
    mkfs.ext4 -q -F "$loop"
    mkdir -p "$mnt"
    mount "$loop" "$mnt"
}

# start_simcam N
start_simcam() {
    "$bin" simcam --listen "$rtsp" --cameras "$1" --bitrate 4M >"$work/simcam.out" 2>"$work/simcam.err" &
    pids+=($!)
    sleep 1
}

# config N CAPACITY_BYTES
config() {
    local n=$1 cap=$2
    {
        echo "data_dir: $mnt/data"
        echo "ssh:"
        echo "  listen: \"127.0.0.1:$sshport\""
        echo "storage:"
        echo "  capacity: $cap"
        echo "  block_size: 4MiB"
        echo "retention:"
        echo "  days: 7"
        echo "lang: en"
        echo "cameras:"
        for i in $(seq 1 "$n"); do
            echo "  - id: cam$i"
            echo "    url: rtsp://$rtsp/cam$i"
        done
    } >"$work/mimamori.yaml"
}

start_serve() {
    mkdir -p "$mnt/data"
    if [ ! -f "$work/tech" ]; then
        ssh-keygen -q -t ed25519 -N '' -f "$work/tech"
    fi
    if [ ! -f "$work/mgr" ]; then
        ssh-keygen -q -t ed25519 -N '' -f "$work/mgr"
    fi
    "$bin" keys add --data "$mnt/data" --role technician --name tech "$work/tech.pub" >/dev/null 2>&1 || true
    "$bin" keys add --data "$mnt/data" --role manager --name mgr "$work/mgr.pub" >/dev/null 2>&1 || true
    "$bin" serve --config "$work/mimamori.yaml" >"$work/serve.out" 2>"$work/serve.err" &
    serve=$!
    pids+=($serve)
    for _ in $(seq 1 100); do
        health >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    log "serve did not come up"; cat "$work/serve.err" >&2; exit 1
}

health() {
    ssh -q -i "$work/tech" -p "$sshport" -o BatchMode=yes -o StrictHostKeyChecking=no \
        -o UserKnownHostsFile=/dev/null -o ConnectTimeout=5 tech@127.0.0.1 health --json
}

io_field() { awk -v f="$2:" '$1==f {print $2}' "/proc/$1/io"; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
dev_written() { awk '{printf "%.0f\n", $7*512}' "/sys/block/$(basename "$loop")/stat"; }

writeamp() {
    local n=$1 secs=$2
    local cap=$((n * 16 * 1024 * 1024))
    mkfs_loop $((cap / 1024 / 1024 + 512))
    build
    start_simcam "$n"
    config "$n" "$cap"
    start_serve
    # Fill the ring once (16 MiB per camera at 0.5 MB/s: 32 s) and more,
    # so the window below is all wrapping.
    local fill=$((cap / (n * 500000) + 15))
    log "$n cameras, ring $((cap >> 20)) MiB: filling for ${fill}s"
    sleep "$fill"
    local h0 h1 w0 w1 r0 r1 c0 c1 d0 d1 t0 t1
    h0="$(health)"; w0=$(io_field "$serve" write_bytes); r0=$(io_field "$serve" rchar); c0=$(cpu_ticks "$serve"); d0=$(dev_written); t0=$(date +%s.%N)
    sleep "$secs"
    h1="$(health)"; w1=$(io_field "$serve" write_bytes); r1=$(io_field "$serve" rchar); c1=$(cpu_ticks "$serve"); d1=$(dev_written); t1=$(date +%s.%N)
    local a0 a1 free
    a0=$(jq .ring.appended_bytes <<<"$h0"); a1=$(jq .ring.appended_bytes <<<"$h1")
    free=$(jq .ring.free_blocks <<<"$h1")
    local hz; hz=$(getconf CLK_TCK)
    awk -v n="$n" -v w=$((w1 - w0)) -v r=$((r1 - r0)) -v a0="$a0" -v a1="$a1" -v d=$((d1 - d0)) \
        -v c=$((c1 - c0)) -v hz="$hz" -v t0="$t0" -v t1="$t1" -v free="$free" -v load="$(cut -d' ' -f1-3 /proc/loadavg)" 'BEGIN {
        el = t1 - t0; a = a1 - a0
        printf "cameras %d, window %.1f s, load %s, free blocks at end %d\n", n, el, load, free
        printf "  footage appended (ring records)  %8.2f MB/s\n", a / el / 1e6
        printf "  received from cameras (rchar)    %8.2f MB/s\n", r / el / 1e6
        printf "  written by the process           %8.2f MB/s  = %.3f x appended, %.3f x received\n", w / el / 1e6, w / a, w / r
        printf "  written to the device (all)      %8.2f MB/s  = %.3f x appended\n", d / el / 1e6, d / a
        printf "  CPU                              %8.1f ms per stream-minute\n", c / hz * 1000 / (n * el / 60)
    }'
}

powerloss() {
    local runs=$1 n=$2
    local cap=$((n * 32 * 1024 * 1024))
    mkfs_loop $((cap / 1024 / 1024 + 512))
    build
    start_simcam "$n"
    config "$n" "$cap"
    local losses=()
    for run in $(seq 1 "$runs"); do
        start_serve
        sleep $((8 + RANDOM % 5)).$((RANDOM % 1000))
        local stop
        stop=$(date +%s%N)
        kill -STOP "$serve"
        # What the loop device holds now is what a power cut would leave.
        cp --sparse=always "$work/disk.img" "$work/after.img"
        kill -KILL "$serve"; wait "$serve" 2>/dev/null || true
        umount -l "$mnt"
        losetup -d "$loop"
        # The power comes back: mount what the disk held and recover.
        mv "$work/after.img" "$work/disk.img"
        loop="$(losetup -f --show "$work/disk.img")"
        mount "$loop" "$mnt"
        local out
        out="$("$insp" --dir "$mnt/data" --capacity "$cap")"
        while read -r line; do
            local cam end bad loss
            cam=$(jq -r .camera <<<"$line"); end=$(jq .end_unix_ns <<<"$line"); bad=$(jq .unreadable <<<"$line")
            loss=$(awk -v s="$stop" -v e="$end" 'BEGIN { printf "%.3f", (s - e) / 1e9 }')
            losses+=("$loss")
            echo "run $run $cam: lost $loss s, unreadable fragments $bad"
        done <<<"$out"
    done
    printf '%s\n' "${losses[@]}" | sort -n | awk -v load="$(cut -d' ' -f1-3 /proc/loadavg)" '
        { v[NR] = $1 } END {
            med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "power loss: %d camera-runs, max %.3f s, median %.3f s, min %.3f s (load %s)\n", NR, v[NR], med, v[1], load
        }'
}

stall() {
    local secs=$1 n=4
    local cap=$((n * 32 * 1024 * 1024))
    mkfs_loop $((cap / 1024 / 1024 + 512))
    build
    start_simcam "$n"
    config "$n" "$cap"
    start_serve
    sleep 5
    log "freezing the file system for ${secs}s"
    fsfreeze -f "$mnt"
    local until=$(($(date +%s) + secs)) asked=0
    while [ "$(date +%s)" -lt "$until" ]; do
        local t0 t1 out
        t0=$(date +%s%N)
        out="$(timeout 10 ssh -q -i "$work/tech" -p "$sshport" -o BatchMode=yes -o StrictHostKeyChecking=no \
            -o UserKnownHostsFile=/dev/null tech@127.0.0.1 health --json 2>"$work/health.err")" || true
        t1=$(date +%s%N)
        asked=$((asked + 1))
        echo "health answered in $(((t1 - t0) / 1000000)) ms; alerts: $(jq -c '[.ring.alerts[].kind]' <<<"$out" 2>/dev/null || echo "none: $out")"
        echo "  stderr: $(head -c 200 "$work/health.err")"
        sleep 2
    done
    fsfreeze -u "$mnt"
    sleep 3
    echo "after the disk is back: alerts $(health | jq -c '[.ring.alerts[].kind]')"
    local logins
    logins=$(ssh -q -i "$work/mgr" -p "$sshport" -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
        mgr@127.0.0.1 ledger --json --limit 100000 | jq '[.[] | select(.action == "logout" and (.details.login_recorded // "") != "")] | length')
    echo "health sessions during the stall: $asked; their logouts ledgered with a late login: $logins"
}

# diskfull SECONDS: 4 cameras record into a ring on a file system with
# ~100 MiB beside it; another writer fills that space and holds it for
# SECONDS, then frees it. Shows health and alerts during and after, the
# footage appended meanwhile, and the log lines serve wrote.
diskfull() {
    local secs=$1 n=4
    local cap=$((n * 32 * 1024 * 1024))
    mkfs_loop $((cap / 1024 / 1024 + 200))
    build
    start_simcam "$n"
    config "$n" "$cap"
    start_serve
    sleep 5
    local a0 a1 a2
    a0=$(health | jq .ring.appended_bytes)
    log "filling the file system ($(df -B1 --output=avail "$mnt" | tail -1) bytes free)"
    fallocate -l "$(df -B1 --output=avail "$mnt" | tail -1)" "$mnt/filler" 2>/dev/null ||
        dd if=/dev/zero of="$mnt/filler" bs=1M status=none 2>/dev/null || true
    echo "free after filling: $(df -B1 --output=avail "$mnt" | tail -1) bytes"
    local lines0; lines0=$(wc -l <"$work/serve.err")
    local until=$(($(date +%s) + secs))
    while [ "$(date +%s)" -lt "$until" ]; do
        local h; h="$(timeout 10 ssh -q -i "$work/tech" -p "$sshport" -o BatchMode=yes -o StrictHostKeyChecking=no \
            -o UserKnownHostsFile=/dev/null tech@127.0.0.1 health --json 2>&1)" || true
        echo "full: alerts $(jq -c '[.ring.alerts[].kind]' <<<"$h" 2>/dev/null || echo "health failed: ${h:0:200}")," \
            "states $(jq -c '[.cameras[].state] | group_by(.) | map({(.[0]): length}) | add' <<<"$h" 2>/dev/null)," \
            "write errors $(jq .ring.write_errors <<<"$h" 2>/dev/null)"
        sleep 3
    done
    a1=$(health | jq .ring.appended_bytes)
    echo "footage appended while full: $(((a1 - a0) / 1000000)) MB in ${secs}s + 5 s; log lines while full: $(($(wc -l <"$work/serve.err") - lines0))"
    rm -f "$mnt/filler"
    sleep 5
    a2=$(health | jq .ring.appended_bytes)
    echo "freed: alerts $(health | jq -c '[.ring.alerts[].kind]'), appended in 5 s after: $(((a2 - a1) / 1000000)) MB"
    echo "serve log lines, by message:"
    sed -n 's/.*msg="\([^"]*\)".*/\1/p' "$work/serve.err" | sort | uniq -c | sort -rn | head -12
    kill "$serve"; wait "$serve" 2>/dev/null || true
    out="$("$insp" --dir "$mnt/data" --capacity "$cap")"
    echo "after restart: $(jq -c '{camera, fragments, unreadable}' <<<"$out" | tr '\n' ' ')"
}

# eio SECONDS: the loop device's backing file lives on a small tmpfs, so
# once the footage has filled it every write of the loop device fails and
# the file system sees EIO (what a dying disk does). Shows health and the
# log while the disk fails, then what a restart on the healthy image finds.
eio() {
    local secs=$1 n=4
    local cap=$((n * 32 * 1024 * 1024))
    mkdir -p "$work/tfs"
    mount -t tmpfs -o size=$((60 + 40))M tmpfs "$work/tfs"
    truncate -s "$((cap / 1024 / 1024 + 200))M" "$work/tfs/disk.img"
    loop="$(losetup -f --show "$work/tfs/disk.img")"
    mkfs.ext4 -q -F "$loop"
    mkdir -p "$mnt"
    mount "$loop" "$mnt"
    echo "tmpfs under the loop device: $(df -B1 --output=avail "$work/tfs" | tail -1) bytes free after mkfs"
    build
    start_simcam "$n"
    config "$n" "$cap"
    start_serve
    local lines0; lines0=$(wc -l <"$work/serve.err")
    local until=$(($(date +%s) + secs))
    while [ "$(date +%s)" -lt "$until" ]; do
        local h; h="$(timeout 10 ssh -q -i "$work/tech" -p "$sshport" -o BatchMode=yes -o StrictHostKeyChecking=no \
            -o UserKnownHostsFile=/dev/null tech@127.0.0.1 health --json 2>"$work/health.err")" || true
        [ -s "$work/health.err" ] && echo "  health stderr: $(head -c 160 "$work/health.err")"
        echo "$(date +%T) tmpfs free $(df -B1 --output=avail "$work/tfs" | tail -1): alerts $(jq -c '[.ring.alerts[].kind]' <<<"$h" 2>/dev/null || echo "health failed: ${h:0:120}")," \
            "write errors $(jq .ring.write_errors <<<"$h" 2>/dev/null), appended $(jq .ring.appended_bytes <<<"$h" 2>/dev/null)"
        sleep 3
    done
    echo "serve log lines: $(($(wc -l <"$work/serve.err") - lines0)), by message:"
    sed -n 's/.*msg="\([^"]*\)".*/\1/p' "$work/serve.err" | sort | uniq -c | sort -rn | head -12
    grep -m3 'level=ERROR' "$work/serve.err" | cut -c1-300
    kill "$serve"; wait "$serve" 2>/dev/null || true
    dmesg 2>/dev/null | grep -i "$(basename "$loop")" | tail -3
}

case "${1:-}" in
writeamp) writeamp "${2:-16}" "${3:-60}" ;;
powerloss) powerloss "${2:-4}" "${3:-8}" ;;
stall) stall "${2:-20}" ;;
diskfull) diskfull "${2:-20}" ;;
eio) eio "${2:-60}" ;;
*) sed -n '2,12p' "$0"; exit 2 ;;
esac
