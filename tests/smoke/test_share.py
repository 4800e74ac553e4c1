"""Share groups (KIP-932) through confluent-kafka's ShareConsumer (librdkafka), against a
real `runnel serve` process: records split between consumers, acknowledgements (accept,
release, reject), lock expiry, delivery limits, the dead-letter topic, and state that
survives a restart.
"""

import re
import subprocess
import sys
import textwrap
import time
import uuid

import pytest
from confluent_kafka import AcknowledgeType, Consumer, Producer, ShareConsumer
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
)

from runnel_server import CLIENT_TIMEOUT, RUNNEL_BIN, Server

# Whole-step deadline: records, redeliveries and lock expiries must all arrive within it.
STEP_TIMEOUT = 30


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create_topic(server, topic, partitions=1):
    admin = AdminClient({"bootstrap.servers": server.address})
    admin.create_topics([NewTopic(topic, partitions)])[topic].result(timeout=CLIENT_TIMEOUT)


def configure_group(server, group, **settings):
    """Sets share-group overrides (IncrementalAlterConfigs on the GROUP resource)."""
    admin = AdminClient({"bootstrap.servers": server.address})
    entries = [
        ConfigEntry(name.replace("_", "."), str(value), incremental_operation=AlterConfigOpType.SET)
        for name, value in settings.items()
    ]
    resource = ConfigResource(ConfigResource.Type.GROUP, group, incremental_configs=entries)
    for future in admin.incremental_alter_configs([resource]).values():
        future.result(timeout=CLIENT_TIMEOUT)


def produce(server, topic, count, prefix="v"):
    producer = Producer({"bootstrap.servers": server.address})
    for i in range(count):
        producer.produce(topic, key=b"k", value=f"{prefix}{i}".encode())
    assert producer.flush(CLIENT_TIMEOUT) == 0


def share_consumer(server, group, topic, **extra):
    config = {
        "bootstrap.servers": server.address,
        "group.id": group,
        "share.acknowledgement.mode": "explicit",
    }
    config.update({k.replace("_", "."): v for k, v in extra.items()})
    consumer = ShareConsumer(config)
    consumer.subscribe([topic])
    return consumer


def poll(consumer, timeout=0.5):
    messages = [m for m in consumer.poll(timeout)]
    for m in messages:
        assert m.error() is None, m.error()
    return messages


def describe(server, group):
    done = subprocess.run(
        [str(RUNNEL_BIN), "group", "describe", group, "-b", server.address],
        capture_output=True,
        text=True,
        timeout=CLIENT_TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def members(server, group):
    match = re.search(r"^Members:\s+(\d+)", describe(server, group), re.M)
    return int(match.group(1)) if match else 0


def wait_for(condition, what):
    deadline = time.monotonic() + STEP_TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"


def read_topic(server, topic, count):
    consumer = Consumer(
        {
            "bootstrap.servers": server.address,
            "group.id": unique("reader"),
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    got = []
    deadline = time.monotonic() + STEP_TIMEOUT
    while len(got) < count and time.monotonic() < deadline:
        m = consumer.poll(0.5)
        if m is not None and m.error() is None:
            got.append(m)
    consumer.close()
    return got


def test_two_consumers_on_one_partition_split_the_records_and_lose_none(server):
    topic, group = unique("share-split"), unique("g")
    create_topic(server, topic)
    configure_group(server, group, share_auto_offset_reset="earliest")
    first = share_consumer(server, group, topic, max_poll_records=10)
    second = share_consumer(server, group, topic, max_poll_records=10)
    wait_for(lambda: (poll(first, 0.1), poll(second, 0.1)) and members(server, group) == 2, "two members")
    produce(server, topic, 300)
    seen = {id(first): [], id(second): []}
    deadline = time.monotonic() + STEP_TIMEOUT
    while sum(len(v) for v in seen.values()) < 300 and time.monotonic() < deadline:
        for consumer in (first, second):
            batch = poll(consumer, 0.2)
            for m in batch:
                seen[id(consumer)].append(m.offset())
                consumer.acknowledge(m, AcknowledgeType.ACCEPT)
            if batch:
                consumer.commit_sync(CLIENT_TIMEOUT)
    offsets = seen[id(first)] + seen[id(second)]
    assert sorted(offsets) == list(range(300)), "every record exactly once"
    assert seen[id(first)] and seen[id(second)], "both consumers got records"
    first.close()
    second.close()


def test_release_redelivers_and_reject_goes_to_the_dead_letter_topic_only(server):
    topic, group, dlq = unique("share-acks"), unique("g"), unique("dlq")
    create_topic(server, topic)
    configure_group(
        server, group, share_auto_offset_reset="earliest", errors_deadletterqueue_topic_name=dlq
    )
    produce(server, topic, 10)
    consumer = share_consumer(server, group, topic)
    batch = []
    wait_for(lambda: batch.extend(poll(consumer)) or len(batch) >= 10, "ten records")
    for m in batch:
        kind = {3: AcknowledgeType.RELEASE, 4: AcknowledgeType.REJECT}.get(m.offset(), AcknowledgeType.ACCEPT)
        consumer.acknowledge(m, kind)
    consumer.commit_sync(CLIENT_TIMEOUT)
    again = []
    wait_for(lambda: again.extend(poll(consumer)) or again, "the released record")
    assert [(m.offset(), m.delivery_count()) for m in again] == [(3, 2)]
    consumer.acknowledge(again[0], AcknowledgeType.ACCEPT)
    consumer.commit_sync(CLIENT_TIMEOUT)
    # Nothing else comes back: the rejected record is gone for good.
    assert poll(consumer, 1.0) == []
    consumer.close()

    letters = read_topic(server, dlq, 1)
    assert len(letters) == 1
    letter = letters[0]
    assert letter.value() == b"v4"
    headers = {k: v.decode() for k, v in letter.headers()}
    assert headers["__dlq.errors.topic"] == topic
    assert headers["__dlq.errors.partition"] == "0"
    assert headers["__dlq.errors.offset"] == "4"
    assert headers["__dlq.errors.delivery.count"] == "1"
    assert headers["__dlq.errors.reason"] == "REJECTED"
    assert headers["__dlq.errors.group"] == group
    assert re.search(r"^\S+\s+0\s+10\s+0\s+0\s+0\s+\d+\s+1$", describe(server, group), re.M)


def test_exhausted_records_go_to_the_dead_letter_topic(server):
    topic, group, dlq = unique("share-limit"), unique("g"), unique("dlq")
    create_topic(server, topic)
    configure_group(
        server,
        group,
        share_auto_offset_reset="earliest",
        share_delivery_count_limit=2,
        errors_deadletterqueue_topic_name=dlq,
    )
    produce(server, topic, 1)
    consumer = share_consumer(server, group, topic)
    counts = []
    for _ in range(2):
        got = []
        wait_for(lambda: got.extend(poll(consumer)) or got, "a delivery")
        counts.append(got[0].delivery_count())
        consumer.acknowledge(got[0], AcknowledgeType.RELEASE)
        consumer.commit_sync(CLIENT_TIMEOUT)
    assert counts == [1, 2]
    assert poll(consumer, 1.0) == [], "no third delivery"
    consumer.close()
    letter = read_topic(server, dlq, 1)[0]
    headers = {k: v.decode() for k, v in letter.headers()}
    assert headers["__dlq.errors.reason"] == "DELIVERY_COUNT_EXCEEDED"
    assert headers["__dlq.errors.delivery.count"] == "2"


HOLDER = textwrap.dedent(
    """
    import sys
    from confluent_kafka import ShareConsumer
    address, group, topic = sys.argv[1:4]
    consumer = ShareConsumer({"bootstrap.servers": address, "group.id": group,
                              "share.acknowledgement.mode": "explicit"})
    consumer.subscribe([topic])
    held = []
    while not held:
        held = [m.offset() for m in consumer.poll(0.5) if m.error() is None]
    print(" ".join(map(str, held)), flush=True)
    sys.stdin.read()  # hold the locks until killed
    """
)


def test_a_consumer_killed_holding_locks_has_its_records_redelivered(server):
    topic, group = unique("share-locks"), unique("g")
    create_topic(server, topic)
    configure_group(server, group, share_auto_offset_reset="earliest", share_record_lock_duration_ms=1000)
    produce(server, topic, 5)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, server.address, group, topic],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        held = [int(o) for o in holder.stdout.readline().split()]
    finally:
        holder.kill()
        holder.wait()
    assert held == list(range(5))
    consumer = share_consumer(server, group, topic)
    got = []
    wait_for(lambda: got.extend(poll(consumer)) or len(got) >= 5, "the redelivery")
    assert sorted((m.offset(), m.delivery_count()) for m in got) == [(o, 2) for o in range(5)]
    for m in got:
        consumer.acknowledge(m, AcknowledgeType.ACCEPT)
    consumer.commit_sync(CLIENT_TIMEOUT)
    consumer.close()


def test_share_state_survives_a_broker_restart(tmp_path):
    topic, group = unique("share-restart"), unique("g")
    server = Server(tmp_path / "data", tmp_path / "serve.log")
    try:
        create_topic(server, topic)
        configure_group(server, group, share_auto_offset_reset="earliest")
        produce(server, topic, 20)
        consumer = share_consumer(server, group, topic, max_poll_records=20)
        got = []
        wait_for(lambda: got.extend(poll(consumer)) or len(got) >= 20, "twenty records")
        for m in got:
            # Accept the even offsets and 1; release the other odd ones.
            accept = m.offset() % 2 == 0 or m.offset() == 1
            consumer.acknowledge(m, AcknowledgeType.ACCEPT if accept else AcknowledgeType.RELEASE)
        consumer.commit_sync(CLIENT_TIMEOUT)
        consumer.close()
        assert server.stop() == 0
        server = Server(tmp_path / "data", tmp_path / "serve.log")
        consumer = share_consumer(server, group, topic, max_poll_records=20)
        again = []
        wait_for(lambda: again.extend(poll(consumer)) or len(again) >= 9, "the released records")
        assert sorted(m.offset() for m in again) == list(range(3, 20, 2))
        assert {m.delivery_count() for m in again} == {2}
        assert re.search(r"START-OFFSET", describe(server, group))
        consumer.close()
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()


@pytest.mark.parametrize("value", ["middle", "-5"])
def test_bad_group_settings_are_refused_by_name(server, value):
    with pytest.raises(Exception, match="share.auto.offset.reset"):
        configure_group(server, unique("g"), share_auto_offset_reset=value)
