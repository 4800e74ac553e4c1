#!/usr/bin/env bash
# Reproduces the broker figures of BENCHMARKS.md ("Broker (produce/consume over the Kafka
# protocol)"): builds release binaries, then runs the produce, consume and latency benchmarks
# of `runnel-bench` several times against `runnel serve` on a free loopback port (a new broker
# over a new data directory for every throughput run, one for all latency runs), prints every
# report and the medians, and stops each broker and removes its data when done with it.
#
# usage: scripts/bench-broker.sh [options]
#   --runs N              repetitions of every benchmark (default 5)
#   --records N           records per throughput run (default 500000)
#   --record-size B       value size in bytes (default 1024)
#   --linger-ms MS        linger.ms of the throughput runs (default 5)
#   --latency-records N   records per latency run, sent at 1000/s (default 20000, ~20 s)
#   --data-dir DIR        where the brokers keep their data, one subdirectory each (default:
#                         a new directory under the cargo target directory); removed at the end
#   --out DIR             where reports are written (default: a new directory under the
#                         cargo target directory); kept
#   --skip-build          use the binaries already built
#   --hook CMD            run `CMD before NAME` and `CMD after NAME` around each
#                         measurement (for example to wait for an idle machine)
#
# The cargo target directory is $CARGO_TARGET_DIR, or target/ of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=5
records=500000
record_size=1024
linger_ms=5
latency_records=20000
data_dir=""
out=""
skip_build=false
hook=""
while (($#)); do
    case "$1" in
        --runs) runs=$2; shift 2 ;;
        --records) records=$2; shift 2 ;;
        --record-size) record_size=$2; shift 2 ;;
        --linger-ms) linger_ms=$2; shift 2 ;;
        --latency-records) latency_records=$2; shift 2 ;;
        --data-dir) data_dir=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --skip-build) skip_build=true; shift ;;
        --hook) hook=$2; shift 2 ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench-broker.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

target=${CARGO_TARGET_DIR:-$PWD/target}
if ! $skip_build; then
    cargo build --release -p runnel -p runnel-bench --bins --examples
fi
runnel=$target/release/runnel
bench=$target/release/examples/bench
for binary in "$runnel" "$bench"; do
    [[ -x $binary ]] || { echo "bench-broker.sh: $binary is missing (drop --skip-build)" >&2; exit 1; }
done

stamp=$(date -u +%Y%m%dT%H%M%SZ)
[[ -n $data_dir ]] || data_dir=$target/bench-broker-data-$stamp
[[ -n $out ]] || out=$target/bench-broker-$stamp
if [[ -e $data_dir ]]; then
    echo "bench-broker.sh: $data_dir exists; give a new --data-dir" >&2
    exit 1
fi
mkdir -p "$data_dir" "$out"

# shellcheck source=scripts/broker-lib.sh
source scripts/broker-lib.sh
cleanup() {
    stop_broker
    rm -rf "$data_dir"
}
trap cleanup EXIT

{
    echo "date:     $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "tree:     $(git describe --always --dirty 2>/dev/null || echo unknown)$($skip_build && echo ' (binaries not rebuilt: --skip-build)')"
    echo "cpus:     $(nproc)"
    echo "kernel:   $(uname -r)"
    echo "data:     $data_dir"
} | tee "$out/environment.txt"

# measure NAME ARGS...: runs one benchmark, keeping its report in $out/NAME.txt.
measure() {
    local name=$1
    shift
    # Write back what earlier runs left dirty, so their writeback does not share this run's
    # CPUs and disk.
    sync -f "$data_dir" 2>/dev/null || sync
    [[ -z $hook ]] || $hook before "$name"
    echo "== $name ($(date -u +%H:%M:%S)): bench $* --bootstrap-server $address"
    "$bench" "$@" --bootstrap-server "$address" | tee "$out/$name.txt"
    [[ -z $hook ]] || $hook after "$name"
}

# Every throughput run gets a new broker and data directory, and the data of the run before
# is deleted first: the page cache then reuses the memory it just freed instead of growing
# into memory the machine has not touched yet (much slower on some virtual machines; see
# BENCHMARKS.md).
throughput=(--records "$records" --record-size "$record_size" --linger-ms "$linger_ms")
for run in $(seq "$runs"); do
    start_broker "acks1-$run"
    measure "produce-acks1-$run" produce --topic "acks1-$run" --acks 1 "${throughput[@]}"
    # Straight after the produce run, so the log is in the page cache.
    measure "consume-$run" consume --topic "acks1-$run"
    stop_broker
    start_broker "acksall-$run"
    measure "produce-acksall-$run" produce --topic "acksall-$run" --acks all "${throughput[@]}"
    stop_broker
done
latency=(--records "$latency_records" --record-size "$record_size" --rate 1000 --acks all --linger-ms 0)
start_broker latency
for run in $(seq "$runs"); do
    measure "latency-$run" produce --topic "latency-$run" "${latency[@]}"
    measure "latency-fsync-$run" produce --topic "latency-fsync-$run" "${latency[@]}" \
        --topic-config flush.messages=1
done
stop_broker

# median: the median of the numbers on stdin.
median() {
    sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# field PATTERN WORD: the number before WORD on the report lines matching PATTERN.
field() {
    grep -h "$1" | sed -E "s|.* ([0-9.]+) $2.*|\\1|"
}
# latency QUANTILE: the quantile's value in ms from the latency line.
latency_of() {
    grep -h 'latency:' | sed -E "s|.* $1 ([0-9.]+) ms.*|\\1|"
}

echo
echo "Medians of $runs runs (reports in $out):"
for step in produce-acks1 produce-acksall consume; do
    files=("$out/$step"-[0-9]*.txt)
    printf '  %-16s %10s records/s %9s MB/s\n' "$step" \
        "$(cat "${files[@]}" | field 'throughput:' 'records/s' | median)" \
        "$(cat "${files[@]}" | field 'throughput:' 'MB/s' | median)"
done
for step in latency latency-fsync; do
    files=("$out/$step"-[0-9]*.txt)
    printf '  %-16s p50 %s ms, p99 %s ms, p99.9 %s ms\n' "$step" \
        "$(cat "${files[@]}" | latency_of p50 | median)" \
        "$(cat "${files[@]}" | latency_of p99 | median)" \
        "$(cat "${files[@]}" | latency_of p99.9 | median)"
done
