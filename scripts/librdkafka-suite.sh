#!/usr/bin/env bash
# Runs librdkafka's own integration test suite against a fresh `runnel serve`.
#
# The suite is the `tests/` directory of the librdkafka sources that the `rdkafka-sys` crate of
# Cargo.lock carries (cargo places them in its registry; nothing is downloaded from elsewhere).
# The script copies that tree into a build directory, configures it with what Debian packages
# provide (zlib1g-dev, libzstd-dev; no SSL, SASL or HTTP), builds the library and the suite's
# `test-runner` (once per librdkafka version), starts `runnel serve` on a free loopback port over
# a new data directory, and runs the chosen tests with the suite's own parallelism.
#
# Which tests run is read from tests/librdkafka/tests.tsv (one line per broker test of that
# librdkafka version: name, status `ci`, `full` or `skip`, reason).
#
# usage: scripts/librdkafka-suite.sh [options]
#   --list ci|full      the tests to run: `ci` (default) those CI runs, `full` every test not
#                       marked `skip` (TESTS=... in the environment overrides both: a comma
#                       separated list of test numbers, as the suite's own TESTS variable)
#   --parallel N        tests run at once (default 4; the suite's -pN)
#   --quick             the suite's quick mode (-Q: fewer messages, and many subtests skipped;
#                       for a first look only)
#   --report FILE       write one line per test: name, outcome (PASSED, FAILED, SKIPPED by the
#                       runner, UNFINISHED or NOT-STARTED when the runner stopped first), status
#   --skip-build        use the runnel binary already built (the suite is always built if missing)
#   --keep              keep the broker's data directory and log
#
# The build goes to $CARGO_TARGET_DIR (or target/ of the workspace)/librdkafka-suite/.
# Exit status: 0 when every test of the chosen list passed (or the runner itself skipped it).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

list=ci
parallel=4
quick=false
report=""
skip_build=false
keep=false
while (($#)); do
    case "$1" in
        --list) list=$2; shift 2 ;;
        --parallel) parallel=$2; shift 2 ;;
        --quick) quick=true; shift ;;
        --report) report=$2; shift 2 ;;
        --skip-build) skip_build=true; shift ;;
        --keep) keep=true; shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "librdkafka-suite.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$list" in
    ci | full) ;;
    *) echo "librdkafka-suite.sh: --list is ci or full" >&2; exit 2 ;;
esac

target=${CARGO_TARGET_DIR:-$root/target}
case "$target" in /*) ;; *) target=$root/$target ;; esac
list_file=$root/tests/librdkafka/tests.tsv

# The librdkafka sources of the rdkafka-sys package in Cargo.lock.
cargo fetch --locked >/dev/null
rdkafka_sys=$(cargo metadata --locked --format-version 1 |
    python3 -c 'import json, os, sys
packages = [p for p in json.load(sys.stdin)["packages"] if p["name"] == "rdkafka-sys"]
if len(packages) != 1:
    sys.exit("expected exactly one rdkafka-sys package in Cargo.lock")
print(os.path.dirname(packages[0]["manifest_path"]))')
source=$rdkafka_sys/librdkafka
version=$(sed -n 's/^#define RD_KAFKA_VERSION *0x\([0-9a-f]*\).*/\1/p' "$source/src/rdkafka.h")
version=$((16#${version:0:2})).$((16#${version:2:2})).$((16#${version:4:2}))
build=$target/librdkafka-suite/librdkafka-$version
runner=$build/tests/test-runner

if [[ ! -x $runner ]]; then
    echo "== building librdkafka $version and its test-runner in $build"
    rm -rf "$build"
    mkdir -p "$(dirname "$build")"
    cp -r "$source" "$build.partial"
    chmod -R u+w "$build.partial"
    (
        cd "$build.partial"
        ./configure --disable-gssapi --disable-ssl --disable-curl --enable-zlib --enable-zstd >build-configure.txt
        make -j"$(nproc)" libs >build-make.txt
        make -j"$(nproc)" -C tests test-runner >>build-make.txt
    ) || { echo "librdkafka-suite.sh: the build failed; logs in $build.partial" >&2; exit 1; }
    mv "$build.partial" "$build"
fi

if ! $skip_build; then
    cargo build --locked -p runnel
fi
runnel=$target/debug/runnel
[[ -x $runnel ]] || { echo "librdkafka-suite.sh: $runnel is missing (drop --skip-build)" >&2; exit 1; }

# The tests to run: TESTS from the environment, or the numbers of the list's chosen tests.
if [[ -z ${TESTS:-} ]]; then
    TESTS=$(awk -F'\t' -v list="$list" '
        /^#/ || NF == 0 { next }
        $2 == "ci" || (list == "full" && $2 == "full") { print substr($1, 1, 4) }
    ' "$list_file" | sort -u | paste -sd, -)
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/librdkafka-suite.XXXXXX")
broker_pid=""
cleanup() {
    if [[ -n $broker_pid ]] && kill -0 "$broker_pid" 2>/dev/null; then
        kill -TERM "$broker_pid"
        wait "$broker_pid" || true
    fi
    if $keep; then
        echo "kept the broker's data and log in $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

# start_broker SCENARIO AUTO_CREATE: a broker over a new data directory on a port the kernel
# picks (it logs the address it listens on), set up as the suite's scenario: topics of 4
# partitions, auto-created or not.
start_broker() {
    local dir=$work/$1
    mkdir -p "$dir"
    printf 'num.partitions = 4\nauto.create.topics.enable = %s\n' "$2" >"$dir/broker.toml"
    "$runnel" serve --data-dir "$dir/data" --listen 127.0.0.1:0 --admin-listen '' \
        --config "$dir/broker.toml" >"$dir/broker.log" 2>&1 &
    broker_pid=$!
    address=""
    for _ in $(seq 300); do
        address=$(sed 's/\x1b\[[0-9;]*m//g' "$dir/broker.log" | grep -o 'listening address=[0-9.:]*' | head -n 1 | cut -d= -f2 || true)
        [[ -n $address ]] && return 0
        kill -0 "$broker_pid" 2>/dev/null || { cat "$dir/broker.log" >&2; exit 1; }
        sleep 0.1
    done
    echo "librdkafka-suite.sh: the broker did not start" >&2
    exit 1
}
stop_broker() {
    kill -TERM "$broker_pid"
    wait "$broker_pid" || true
    broker_pid=""
}

# run_scenario SCENARIO AUTO_CREATE: the chosen tests of that scenario (the runner skips the
# others silently) against a broker of their own. -L: only tests that need a broker (the
# others test librdkafka alone); the broker version is the Kafka release whose protocol Runnel
# speaks, so version-gated tests run.
run_scenario() {
    local scenario=$1 args=(-L "-p$parallel" -s "$1") code=0
    $quick && args+=(-Q)
    start_broker "$scenario" "$2"
    printf 'bootstrap.servers=%s\n' "$address" >"$work/$scenario/test.conf"
    echo "== librdkafka $version suite, scenario $scenario, against runnel at $address: ${args[*]}"
    local start=$SECONDS
    (
        cd "$build/tests"
        export LD_LIBRARY_PATH=../src:../src-cpp${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
        RDKAFKA_TEST_CONF=$work/$scenario/test.conf TEST_KAFKA_VERSION=4.0.0 TESTS=$TESTS \
            RDKAFKA_GITVER=$version ./test-runner "${args[@]}"
    ) >>"$work/suite.log" 2>&1 || code=$?
    echo "== scenario $scenario finished in $((SECONDS - start)) s (runner exit status $code; the verdict below counts the listed tests)"
    stop_broker
}
echo "== TESTS=$TESTS"
run_scenario default true
run_scenario noautocreate false

# Every listed test's outcome, from the runner's log (its summary table is missing when the
# runner aborts, which it does when a failed test leaves clients behind): the verdict counts
# the tests of the chosen list only; the others a number brings along are reported.
results=$work/results.tsv
verdict=0
sed 's/\x1b\[[0-9;]*m//g' "$work/suite.log" | python3 -c '
import re, sys
list_file, chosen, results, tests = sys.argv[1:5]
listed = {}
for line in open(list_file):
    if line[:1].isdigit():
        name, status = line.rstrip("\n").split("\t")[:2]
        listed[name] = status
wanted = {
    n for n, s in listed.items()
    if (s == "ci" or (chosen == "full" and s == "full")) and n[:4] in tests.split(",")
}
states = {}
for line in sys.stdin:
    if m := re.search(r"Running test (\d{4}\w*) =", line):
        states.setdefault(m[1], "UNFINISHED")
    elif m := re.search(r"Test (\d{4}\w*) PASSED", line):
        states[m[1]] = "PASSED"
    elif m := re.search(r"### Test \"(\d{4}\w*)[\" ]", line):
        states[m[1]] = "FAILED"
    elif m := re.match(r"\[(\d{4}\w*) +/.*SKIPPING TEST", line):
        states[m[1]] = "SKIPPED"
numbers = {n[:4] for n in states}
bad = 0
with open(results, "w") as out:
    for name in sorted(listed):
        if name not in wanted and name not in states:
            continue
        state = states.get(name, "NOT-STARTED" if name[:4] in numbers else "NOT-RUN")
        counted = name in wanted
        if counted and state not in ("PASSED", "SKIPPED"):
            bad += 1
        note = "" if counted else " (not counted)"
        out.write(f"{name}\t{state}\t{listed[name]}{note}\n")
sys.exit(1 if bad else 0)
' "$list_file" "$list" "$results" "$TESTS" || verdict=1
awk -F'\t' '{ printf "%-48s %-12s %s\n", $1, $2, $3 }' "$results"
counted=$(grep -v 'not counted' "$results" || true)
echo "== $(grep -c PASSED <<<"$counted" || true) passed, $(grep -cE 'FAILED|UNFINISHED|NOT-' <<<"$counted" || true) failed or not finished," \
    "$(grep -c SKIPPED <<<"$counted" || true) skipped by the runner (of the $list list)"
[[ -z $report ]] || cp "$results" "$report"
if ((verdict != 0)); then
    echo "== failures:"
    sed 's/\x1b\[[0-9;]*m//g' "$work/suite.log" | grep -A1 '^### Test .* failed' | head -n 100 || true
    keep=true
fi
exit "$verdict"
