#!/usr/bin/env python3
"""Transactional produce through a second librdkafka client (confluent-kafka-python), to
separate what the broker costs per transaction from what `runnel bench` costs.

usage:
  scripts/txn-client-check.py BOOTSTRAP commits          # 3 transactions of 100 ms, with
                                                          # librdkafka's eos,protocol debug log
                                                          # on stderr and each commit's duration
  scripts/txn-client-check.py BOOTSTRAP throughput idem  # 1,000,000 records of 1 KiB, idempotent
  scripts/txn-client-check.py BOOTSTRAP throughput txn   # the same, a commit every 100 ms

Needs `pip install confluent-kafka` (not installed by .ci/run; nothing in CI runs this).
"""

import sys
import time

from confluent_kafka import Producer

PAYLOAD = b"x" * 1024
INTERVAL = 0.1


def produce(producer, topic):
    while True:
        try:
            producer.produce(topic, PAYLOAD)
            return
        except BufferError:
            producer.poll(0.0005)


def commits(bootstrap):
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": "txn-client-check",
                         "linger.ms": 5, "debug": "eos,protocol"})
    producer.init_transactions()
    for n in range(3):
        producer.begin_transaction()
        start = time.time()
        sent = 0
        while time.time() - start < INTERVAL:
            produce(producer, "txn-client-check")
            sent += 1
            producer.poll(0)
        committing = time.time()
        producer.commit_transaction()
        print(f"transaction {n}: {sent} records, commit took "
              f"{(time.time() - committing) * 1000:.1f} ms", file=sys.stderr)


def throughput(bootstrap, mode, records=1_000_000):
    config = {"bootstrap.servers": bootstrap, "linger.ms": 5, "enable.idempotence": True}
    if mode == "txn":
        config["transactional.id"] = f"txn-client-check-{time.time_ns()}"
    producer = Producer(config)
    topic = f"txn-client-check-{mode}"
    if mode == "txn":
        producer.init_transactions()
        producer.begin_transaction()
    start = opened = time.time()
    count = 0
    for _ in range(records):
        produce(producer, topic)
        if mode == "txn" and time.time() - opened >= INTERVAL:
            producer.commit_transaction()
            count += 1
            producer.begin_transaction()
            opened = time.time()
    if mode == "txn":
        producer.commit_transaction()
        count += 1
    else:
        producer.flush()
    elapsed = time.time() - start
    print(f"{mode}: {records / elapsed:.0f} records/s, {count} commits")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[2] == "commits":
        commits(sys.argv[1])
    elif len(sys.argv) == 4 and sys.argv[2] == "throughput" and sys.argv[3] in ("idem", "txn"):
        throughput(sys.argv[1], sys.argv[3])
    else:
        sys.exit(__doc__)
