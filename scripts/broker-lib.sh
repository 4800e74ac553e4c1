# Starting and stopping one `runnel serve` at a time, for the benchmark scripts that source
# this file. They set `runnel` (the executable), `data_dir` (under which each broker gets a
# new data directory) and `out` (where each broker's log goes); after start_broker,
# `address` is the broker's Kafka address.

broker_pid=""
broker_data=""
address=""

# start_broker NAME [ADMIN]: a broker over a new data directory, on a port the kernel picks
# (the broker logs the address it listens on). ADMIN is its --admin-listen: by default
# 127.0.0.1:0 (metrics on, on a port of its own, so a broker already on the default admin
# port does not stop the run); empty for no admin server and no metrics.
start_broker() {
    broker_data=$data_dir/$1
    mkdir -p "$broker_data"
    "$runnel" serve --data-dir "$broker_data" --listen 127.0.0.1:0 --admin-listen "${2-127.0.0.1:0}" \
        >"$out/broker-$1.log" 2>&1 &
    broker_pid=$!
    address=""
    for _ in $(seq 300); do
        address=$(sed 's/\x1b\[[0-9;]*m//g' "$out/broker-$1.log" | grep -o 'listening address=[0-9.:]*' | head -n 1 | cut -d= -f2 || true)
        [[ -n $address ]] && return 0
        kill -0 "$broker_pid" 2>/dev/null || { cat "$out/broker-$1.log" >&2; exit 1; }
        sleep 0.1
    done
    echo "$(basename "$0"): the broker did not start" >&2
    exit 1
}

# stop_broker: SIGTERM (a clean shutdown), then remove its data.
stop_broker() {
    if [[ -n $broker_pid ]] && kill -0 "$broker_pid" 2>/dev/null; then
        kill -TERM "$broker_pid"
        wait "$broker_pid" || true
    fi
    broker_pid=""
    [[ -z $broker_data ]] || rm -rf "$broker_data"
    broker_data=""
}
