"""Smoke tests of a real `runnel serve` process with third-party Kafka clients.

The `runnel` binary is not built here: `RUNNEL_BIN` names it (default `target/debug/runnel`
under the workspace root). Needs `kafka-python` and `kcat`; a missing kcat is a failure, not
a skip, so CI cannot pass without having run it.
"""

import shutil
import subprocess
import time
import urllib.request
import warnings
from collections import defaultdict

# kafka-python loads its protocol schemas through a deprecated importlib API as it is
# imported; those warnings are not ours to fix.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import KafkaAdminClient, NewTopic

from runnel_server import CLIENT_TIMEOUT, RUNNEL_BIN, Server  # noqa: E402  (after the warnings filter)


def kcat(*args, stdin=None):
    path = shutil.which("kcat")
    assert path, "kcat is not installed (Debian package kcat); the smoke tests need it"
    done = subprocess.run(
        [path, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=CLIENT_TIMEOUT,
    )
    assert done.returncode == 0, f"kcat {args} exited {done.returncode}: {done.stderr}"
    return done.stdout


def test_kafka_python_produces_and_a_group_consumes_in_order(server):
    topic = "smoke-python"
    admin = KafkaAdminClient(bootstrap_servers=server.address)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    finally:
        admin.close()

    # kafka-python 3 enables idempotence by default: InitProducerId and sequence checks.
    producer = KafkaProducer(bootstrap_servers=server.address)
    keys = [f"key-{k}" for k in range(6)]
    futures = [
        (key, i, producer.send(topic, key=key.encode(), value=f"{key}/{i}".encode()))
        for i in range(20)
        for key in keys
    ]
    producer.flush(timeout=CLIENT_TIMEOUT)
    placed = {}
    for key, i, future in futures:
        meta = future.get(timeout=CLIENT_TIMEOUT)
        placed[(key, i)] = (meta.partition, meta.offset)
    producer.close()
    # One key, one partition.
    for key in keys:
        assert len({placed[(key, i)][0] for i in range(20)}) == 1

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=server.address,
        group_id="smoke-group",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    received = []
    deadline = time.monotonic() + CLIENT_TIMEOUT
    while len(received) < len(futures) and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            received.extend(records)
    consumer.commit()
    committed = {p: consumer.committed(TopicPartition(topic, p)) for p in range(3)}
    consumer.close()

    assert len(received) == len(futures)
    by_partition = defaultdict(list)
    for record in received:
        key, value = record.key.decode(), record.value.decode()
        i = int(value.split("/")[1])
        assert value == f"{key}/{i}"
        assert placed[(key, i)] == (record.partition, record.offset)
        by_partition[record.partition].append(record)
    for partition, records in by_partition.items():
        offsets = [r.offset for r in records]
        assert offsets == list(range(len(records))), f"partition {partition}: {offsets}"
        for key in keys:
            sequence = [int(r.value.decode().split("/")[1]) for r in records if r.key.decode() == key]
            assert sequence == sorted(sequence)
    for partition in range(3):
        assert committed[partition] == len(by_partition[partition])

    # Runnel's own command line sees what kafka-python committed: no lag anywhere.
    described = subprocess.run(
        [str(RUNNEL_BIN), "group", "describe", "smoke-group", "-b", server.address],
        capture_output=True,
        text=True,
        timeout=CLIENT_TIMEOUT,
    )
    assert described.returncode == 0, described.stderr
    rows = [line.split() for line in described.stdout.splitlines() if line.startswith(topic)]
    assert sorted(row[1] for row in rows) == ["0", "1", "2"], described.stdout
    for row in rows:
        assert row[2] == row[3] and row[4] == "0", described.stdout


def test_kcat_produces_consumes_and_lists_metadata(server):
    topic = "smoke-kcat"
    lines = ["alpha:first", "beta:second", "gamma:third:with colon"]
    kcat("-b", server.address, "-t", topic, "-P", "-K", ":", stdin="\n".join(lines) + "\n")
    out = kcat("-b", server.address, "-t", topic, "-C", "-e", "-o", "beginning", "-f", "%p %o %k=%s\n")
    assert out.splitlines() == [
        "0 0 alpha=first",
        "0 1 beta=second",
        "0 2 gamma=third:with colon",
    ]
    plain = kcat("-b", server.address, "-t", topic, "-C", "-e", "-o", "beginning")
    assert plain.splitlines() == ["first", "second", "third:with colon"]
    metadata = kcat("-b", server.address, "-L")
    assert f'topic "{topic}" with 1 partitions:' in metadata
    assert f"broker 0 at {server.address}" in metadata


def test_kafka_python_transactions_hide_aborted_records_from_read_committed(server):
    topic = "smoke-transactions"
    admin = KafkaAdminClient(bootstrap_servers=server.address)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        admin.close()

    producer = KafkaProducer(bootstrap_servers=server.address, transactional_id="smoke-tx")
    producer.init_transactions()
    producer.begin_transaction()
    producer.send(topic, value=b"aborted")
    producer.flush(timeout=CLIENT_TIMEOUT)
    producer.abort_transaction()
    producer.begin_transaction()
    producer.send(topic, value=b"committed")
    producer.commit_transaction()
    producer.close()

    def read(isolation_level):
        consumer = KafkaConsumer(
            bootstrap_servers=server.address,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            isolation_level=isolation_level,
        )
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        consumer.seek_to_beginning(partition)
        end = consumer.end_offsets([partition])[partition]
        values = []
        deadline = time.monotonic() + CLIENT_TIMEOUT
        while consumer.position(partition) < end and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                values.extend(r.value for r in records)
        consumer.close()
        return values

    assert read("read_committed") == [b"committed"]
    assert read("read_uncommitted") == [b"aborted", b"committed"]


def test_the_admin_server_reports_health_and_what_was_produced(server):
    topic = "smoke-metrics"
    producer = KafkaProducer(bootstrap_servers=server.address)
    for i in range(7):
        producer.send(topic, value=f"metered-{i}".encode())
    producer.flush(timeout=CLIENT_TIMEOUT)
    producer.close()
    base = f"http://{server.admin_address}"
    with urllib.request.urlopen(f"{base}/health", timeout=CLIENT_TIMEOUT) as health:
        assert (health.status, health.read()) == (200, b"ok\n")
    with urllib.request.urlopen(f"{base}/metrics", timeout=CLIENT_TIMEOUT) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        metrics = response.read().decode()
    produced = [
        line
        for line in metrics.splitlines()
        if line.startswith(f'runnel_topic_produced_records_total{{topic="{topic}"}}')
    ]
    assert produced == [f'runnel_topic_produced_records_total{{topic="{topic}"}} 7'], metrics


def test_sigterm_stops_the_broker_cleanly_and_data_survives(server, data_dir, tmp_path):
    kcat("-b", server.address, "-t", "smoke-restart", "-P", stdin="kept\nacross\nrestart\n")
    assert server.stop() == 0, server.logs()
    # A restart on the same directory serves what was written before.
    again = Server(data_dir, tmp_path / "restart.log")
    try:
        out = kcat("-b", again.address, "-t", "smoke-restart", "-C", "-e", "-o", "beginning")
        assert out.splitlines() == ["kept", "across", "restart"]
    finally:
        assert again.stop() == 0, again.logs()
