#!/usr/bin/env bash
# Runs librdkafka's own integration test suite against a fresh `runnel serve`.
#
# The suite is the `tests/` directory of the librdkafka sources that the `rdkafka-sys` crate of
# Cargo.lock carries (cargo places them in its registry; nothing is downloaded from elsewhere).
# The script copies that tree into a build directory, configures it with what Debian packages
# provide (zlib1g-dev, libzstd-dev, libssl-dev: SSL, and SASL PLAIN and SCRAM; no GSSAPI, and
# no HTTP, so no OIDC), builds the library and the suite's `test-runner` (once per librdkafka
# version), starts `runnel serve` on a free loopback port over a new data directory, and runs
# the chosen tests with the suite's own parallelism. Tests that need a broker set up otherwise
# (an authorizer, an SSL listener) run against a broker of their own (see `setup_tests`).
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
build=$target/librdkafka-suite/librdkafka-$version-ssl
runner=$build/tests/test-runner

if [[ ! -x $runner ]]; then
    echo "== building librdkafka $version and its test-runner in $build"
    rm -rf "$build"
    mkdir -p "$(dirname "$build")"
    cp -r "$source" "$build.partial"
    chmod -R u+w "$build.partial"
    (
        cd "$build.partial"
        ./configure --disable-gssapi --enable-ssl --disable-curl --enable-zlib --enable-zstd >build-configure.txt
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

# Tests that need a broker set up otherwise than the suite's scenarios run apart, against a
# broker of that set-up (as the suite's `default` scenario), and not in the plain runs:
#   acl  an authorizer, the suite's clients (User:ANONYMOUS) super users: 0081 creates, lists
#        and deletes ACLs, and asks for authorized operations
#   ssl  one SSL listener asking for client certificates (ssl.client.auth=required), with
#        certificates made for the run: 0097 connects with trusted and untrusted ones
declare -A setup_tests=([acl]=0081 [ssl]=0097)
setup_order=(acl ssl)

# make_certificates DIR: a CA, the broker's certificate (for 127.0.0.1) signed by it, and a
# client's (X.509 v3, as rustls requires: the extensions make it so), in every form 0097 loads (PEM, DER, PKCS#12; the client key encrypted), as trivup
# makes them for librdkafka's own runs; the SSL_* variables it reads go to DIR/ssl.env.
make_certificates() {
    local dir=$1 password=runnel-suite
    # `&&`: errexit does not apply inside a command list followed by `||`.
    (
        cd "$dir" &&
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=runnel-suite-ca \
            -keyout ca.key -out ca.pem &&
        openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout broker.key -out broker.csr &&
        openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
            -extfile <(printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n') -out broker.pem &&
        cat broker.pem broker.key >broker-keystore.pem &&
        openssl req -newkey rsa:2048 -subj /CN=client -passout "pass:$password" \
            -keyout client.key -out client.csr &&
        openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
            -extfile <(printf 'extendedKeyUsage=clientAuth\n') -out client.pem &&
        openssl x509 -in client.pem -outform DER -out client.der &&
        openssl pkey -in client.key -passin "pass:$password" -outform DER -out client-key.der &&
        openssl x509 -in ca.pem -outform DER -out ca.der &&
        openssl pkcs12 -export -in client.pem -inkey client.key -certfile ca.pem \
            -passin "pass:$password" -passout "pass:$password" -out client.p12
    ) >"$dir/certificates.log" 2>&1 || { cat "$dir/certificates.log" >&2; exit 1; }
    cat >"$dir/ssl.env" <<ENV
SSL_pkcs=$dir/client.p12
SSL_pub_pem=$dir/client.pem
SSL_pub_der=$dir/client.der
SSL_priv_pem=$dir/client.key
SSL_priv_der=$dir/client-key.der
SSL_ca_der=$dir/ca.der
SSL_all_cas_pem=$dir/ca.pem
SSL_password=$password
ENV
}

# prepare SETUP DIR: the broker's settings (DIR/broker.toml) and listener (`listen`), the
# clients' settings besides bootstrap.servers (DIR/client.conf) and the runner's environment
# (DIR/runner.env) of a set-up: `default` and `noautocreate` are the suite's scenarios, topics
# of 4 partitions, auto-created or not.
prepare() {
    local setup=$1 dir=$2 auto_create=true
    [[ $setup == noautocreate ]] && auto_create=false
    printf 'num.partitions = 4\nauto.create.topics.enable = %s\n' "$auto_create" >"$dir/broker.toml"
    : >"$dir/client.conf"
    : >"$dir/runner.env"
    listen=127.0.0.1:0
    case $setup in
        acl)
            printf '"authorizer.class.name" = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"\n"super.users" = "User:ANONYMOUS"\n' >>"$dir/broker.toml"
            ;;
        ssl)
            make_certificates "$dir"
            listen=SSL://127.0.0.1:0
            cat >>"$dir/broker.toml" <<TOML
"ssl.keystore.location" = "$dir/broker-keystore.pem"
"ssl.truststore.location" = "$dir/ca.pem"
"ssl.client.auth" = "required"
TOML
            cat >"$dir/client.conf" <<CONF
security.protocol=ssl
ssl.ca.location=$dir/ca.pem
ssl.certificate.location=$dir/client.pem
ssl.key.location=$dir/client.key
ssl.key.password=runnel-suite
CONF
            cp "$dir/ssl.env" "$dir/runner.env"
            ;;
    esac
}

# start_broker DIR: a broker over a new data directory on a port the kernel picks (it logs
# the address it listens on).
start_broker() {
    local dir=$1
    "$runnel" serve --data-dir "$dir/data" --listen "$listen" --admin-listen '' \
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

# run_setup SETUP SCENARIO TESTS: the given tests of the suite's scenario (the runner skips
# the others silently) against a broker of their own set up as SETUP. -L: only tests that need
# a broker (the others test librdkafka alone); the broker version is the Kafka release whose
# protocol Runnel speaks, so version-gated tests run.
run_setup() {
    local setup=$1 scenario=$2 tests=$3 args=(-L "-p$parallel" -s "$2") code=0 dir=$work/$1
    [[ -n $tests ]] || return 0
    $quick && args+=(-Q)
    mkdir -p "$dir"
    prepare "$setup" "$dir"
    start_broker "$dir"
    { printf 'bootstrap.servers=%s\n' "$address"; cat "$dir/client.conf"; } >"$dir/test.conf"
    echo "== librdkafka $version suite, $setup set-up (scenario $scenario), against runnel at $address: TESTS=$tests ${args[*]}"
    local start=$SECONDS
    (
        cd "$build/tests"
        export LD_LIBRARY_PATH=../src:../src-cpp${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
        set -a
        # shellcheck disable=SC1091
        source "$dir/runner.env"
        set +a
        RDKAFKA_TEST_CONF=$dir/test.conf TEST_KAFKA_VERSION=4.0.0 TESTS=$tests \
            RDKAFKA_GITVER=$version ./test-runner "${args[@]}"
    ) >>"$work/suite.log" 2>&1 || code=$?
    echo "== $setup set-up finished in $((SECONDS - start)) s (runner exit status $code; the verdict below counts the listed tests)"
    stop_broker
}

# only LIST TESTS, except LIST TESTS: the numbers of comma-separated TESTS in, or not in, LIST.
only() { comm -12 <(tr , '\n' <<<"$1" | sort -u) <(tr , '\n' <<<"$2" | sort -u) | paste -sd, -; }
except() { comm -13 <(tr , '\n' <<<"$1" | sort -u) <(tr , '\n' <<<"$2" | sort -u) | paste -sd, -; }

echo "== TESTS=$TESTS"
plain=$TESTS
for setup in "${setup_order[@]}"; do
    plain=$(except "${setup_tests[$setup]}" "$plain")
done
run_setup default default "$plain"
run_setup noautocreate noautocreate "$plain"
for setup in "${setup_order[@]}"; do
    run_setup "$setup" default "$(only "${setup_tests[$setup]}" "$TESTS")"
done

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
