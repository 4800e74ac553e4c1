#!/usr/bin/env python3
"""Acknowledged-delivery rate of a Runnel share group against a RabbitMQ queue, one run each
on this machine, with the same workload and the same client language.

Workload: N records of 1 KiB are loaded first; then C consumer processes (4 by default) take
them and acknowledge every record individually, until all N are acknowledged. The rate is
N divided by the time from the consumers' start to the last acknowledgement.

- Runnel: a share group over a topic of C partitions; confluent-kafka's ShareConsumer in
  explicit acknowledgement mode, each record ACCEPTed on its own (acknowledgements travel
  with the next poll, as the client sends them).
- RabbitMQ: one durable classic queue (or a quorum queue with --quorum); persistent messages;
  pika consumers with prefetch 100 and one basic_ack per message.

Needs a running RabbitMQ on localhost:5672 (guest/guest), the `pika` and `confluent-kafka`
packages, and a release build of runnel (RUNNEL_BIN, default target/release/runnel).
"""

import argparse
import multiprocessing as mp
import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAYLOAD = b"x" * 1024


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def runnel_consumer(address, group, topic, quota, ready, start, done):
    from confluent_kafka import AcknowledgeType, ShareConsumer

    consumer = ShareConsumer(
        {
            "bootstrap.servers": address,
            "group.id": group,
            "share.acknowledgement.mode": "explicit",
        }
    )
    consumer.subscribe([topic])
    ready.release()
    start.wait()
    count = 0
    while done.value < quota:
        messages = consumer.poll(0.2)
        for m in messages:
            if m.error() is None:
                consumer.acknowledge(m, AcknowledgeType.ACCEPT)
                count += 1
        with done.get_lock():
            done.value += sum(1 for m in messages if m.error() is None)
    consumer.commit_sync(30)
    consumer.close()


def run_runnel(args):
    from confluent_kafka import Producer
    from confluent_kafka.admin import (
        AdminClient,
        AlterConfigOpType,
        ConfigEntry,
        ConfigResource,
        NewTopic,
    )

    binary = os.environ.get("RUNNEL_BIN", str(ROOT / "target" / "release" / "runnel"))
    address = f"127.0.0.1:{free_port()}"
    with tempfile.TemporaryDirectory() as data:
        server = subprocess.Popen(
            [binary, "serve", "--data-dir", data, "--listen", address, "--admin-listen", ""],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    socket.create_connection(address.split(":"), timeout=1).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline, "runnel did not start"
                    time.sleep(0.05)
            topic, group = f"bench-{uuid.uuid4().hex[:6]}", "bench"
            admin = AdminClient({"bootstrap.servers": address})
            admin.create_topics([NewTopic(topic, args.consumers)])[topic].result(30)
            entry = ConfigEntry(
                "share.auto.offset.reset", "earliest", incremental_operation=AlterConfigOpType.SET
            )
            resource = ConfigResource(ConfigResource.Type.GROUP, group, incremental_configs=[entry])
            for f in admin.incremental_alter_configs([resource]).values():
                f.result(30)
            producer = Producer({"bootstrap.servers": address, "linger.ms": 5})
            for i in range(args.records):
                while True:
                    try:
                        producer.produce(topic, value=PAYLOAD, partition=i % args.consumers)
                        break
                    except BufferError:
                        producer.poll(0.05)
            assert producer.flush(60) == 0
            return consume(args, runnel_consumer, (address, group, topic))
        finally:
            server.terminate()
            server.wait()


def rabbit_consumer(queue, quota, ready, start, done):
    import pika

    connection = pika.BlockingConnection(pika.ConnectionParameters("localhost"))
    channel = connection.channel()
    channel.basic_qos(prefetch_count=100)
    ready.release()
    start.wait()
    for method, _, _ in channel.consume(queue, inactivity_timeout=0.2):
        if method is not None:
            channel.basic_ack(method.delivery_tag)
            with done.get_lock():
                done.value += 1
        if done.value >= quota:
            break
    channel.cancel()
    connection.close()


def run_rabbitmq(args):
    import pika

    queue = f"bench-{uuid.uuid4().hex[:6]}"
    connection = pika.BlockingConnection(pika.ConnectionParameters("localhost"))
    channel = connection.channel()
    queue_args = {"x-queue-type": "quorum"} if args.quorum else {}
    channel.queue_declare(queue, durable=True, arguments=queue_args)
    channel.confirm_delivery()
    props = pika.BasicProperties(delivery_mode=2)
    for _ in range(args.records):
        channel.basic_publish("", queue, PAYLOAD, props)
    try:
        return consume(args, rabbit_consumer, (queue,))
    finally:
        channel.queue_delete(queue)
        connection.close()


def consume(args, target, target_args):
    ready = mp.Semaphore(0)
    start = mp.Event()
    done = mp.Value("q", 0)
    workers = [
        mp.Process(target=target, args=(*target_args, args.records, ready, start, done))
        for _ in range(args.consumers)
    ]
    for w in workers:
        w.start()
    for _ in workers:
        ready.acquire()
    began = time.monotonic()
    start.set()
    while done.value < args.records:
        time.sleep(0.01)
    elapsed = time.monotonic() - began
    for w in workers:
        w.join(60)
    return args.records / elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--consumers", type=int, default=4)
    parser.add_argument("--quorum", action="store_true", help="a quorum queue, not classic")
    parser.add_argument("--only", choices=["runnel", "rabbitmq"])
    args = parser.parse_args()
    results = {}
    if args.only in (None, "runnel"):
        results["runnel"] = run_runnel(args)
        print(f"runnel share group: {results['runnel']:,.0f} acknowledged records/s", flush=True)
    if args.only in (None, "rabbitmq"):
        results["rabbitmq"] = run_rabbitmq(args)
        kind = "quorum" if args.quorum else "classic"
        print(f"rabbitmq {kind} queue: {results['rabbitmq']:,.0f} acknowledged records/s", flush=True)
    if len(results) == 2:
        print(f"ratio runnel/rabbitmq: {results['runnel'] / results['rabbitmq']:.2f}")


if __name__ == "__main__":
    sys.exit(main())
