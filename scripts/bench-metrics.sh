#!/usr/bin/env bash
# Produce throughput with metrics on against metrics off, in one run (BENCHMARKS.md, "Metrics
# on and off"). Every run starts two brokers one after the other, each over a new data
# directory: one with its admin server (metrics counted and served, as by default) and one
# with `--admin-listen ''` (nothing counted), alternating which goes first, and measures
# `runnel bench produce` against each. Prints every report, the medians and the median of the
# per-run ratios (off/on), and the load average before and after.
#
# usage: scripts/bench-metrics.sh [options]
#   --runs N              on/off pairs (default 7)
#   --records N           records per produce run (default 2000000)
#   --record-size B       value size in bytes (default 1024)
#   --linger-ms MS        linger.ms (default 5)
#   --skip-build          use the binaries already built
#
# The cargo target directory is $CARGO_TARGET_DIR, or target/ of the workspace; the brokers'
# data and the reports go under it (data removed at the end, reports kept).
set -euo pipefail
cd "$(dirname "$0")/.."

runs=7
records=2000000
record_size=1024
linger_ms=5
skip_build=false
while (($#)); do
    case "$1" in
        --runs) runs=$2; shift 2 ;;
        --records) records=$2; shift 2 ;;
        --record-size) record_size=$2; shift 2 ;;
        --linger-ms) linger_ms=$2; shift 2 ;;
        --skip-build) skip_build=true; shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench-metrics.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

target=${CARGO_TARGET_DIR:-$PWD/target}
if ! $skip_build; then
    cargo build --release -p runnel --bin runnel
fi
runnel=$target/release/runnel
[[ -x $runnel ]] || { echo "bench-metrics.sh: $runnel is missing (drop --skip-build)" >&2; exit 1; }

stamp=$(date -u +%Y%m%dT%H%M%SZ)
data_dir=$target/bench-metrics-data-$stamp
out=$target/bench-metrics-$stamp
mkdir -p "$data_dir" "$out"
# shellcheck source=scripts/broker-lib.sh
source scripts/broker-lib.sh
trap 'stop_broker; rm -rf "$data_dir"' EXIT

{
    echo "date:     $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "tree:     $(git describe --always --dirty 2>/dev/null || echo unknown)"
    echo "cpus:     $(nproc)"
    echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (before)"
} | tee "$out/environment.txt"

# measure NAME ADMIN: one produce run against a new broker.
measure() {
    start_broker "$1" "$2"
    sync -f "$data_dir" 2>/dev/null || sync
    echo "== $1 ($(date -u +%H:%M:%S), load $(cut -d' ' -f1 /proc/loadavg))"
    "$runnel" bench produce --bootstrap-server "$address" --topic "$1" --acks 1 \
        --records "$records" --record-size "$record_size" --linger-ms "$linger_ms" | tee "$out/$1.txt"
    stop_broker
}
for run in $(seq "$runs"); do
    if ((run % 2)); then
        measure "on-$run" 127.0.0.1:0
        measure "off-$run" ""
    else
        measure "off-$run" ""
        measure "on-$run" 127.0.0.1:0
    fi
done
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (after)" | tee -a "$out/environment.txt"

median() {
    sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
rate() {
    grep -h 'throughput:' "$1" | sed -E 's|.* ([0-9.]+) records/s.*|\1|'
}
echo
echo "Records/s of $runs runs (reports in $out):"
ratios=()
for run in $(seq "$runs"); do
    on=$(rate "$out/on-$run.txt")
    off=$(rate "$out/off-$run.txt")
    ratio=$(awk -v on="$on" -v off="$off" 'BEGIN { printf "%.4f", on / off }')
    ratios+=("$ratio")
    printf '  run %2d  on %10s  off %10s  on/off %s\n' "$run" "$on" "$off" "$ratio"
done
printf '  median  on %10s  off %10s  on/off %s (median of the runs'"'"' ratios)\n' \
    "$(for r in $(seq "$runs"); do rate "$out/on-$r.txt"; done | median)" \
    "$(for r in $(seq "$runs"); do rate "$out/off-$r.txt"; done | median)" \
    "$(printf '%s\n' "${ratios[@]}" | median)"
