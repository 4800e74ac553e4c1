//! The librdkafka settings the toolkit's clients share, so that every reader and writer of
//! the event store agrees on them.

use rdkafka::ClientConfig;

/// A reader of whole topics: `read_committed` (never an aborted or open transaction's
/// records), assigned partitions rather than group membership, nothing committed.
pub(crate) fn reader(bootstrap: &str, group: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .set("enable.partition.eof", "false");
    config
}

/// A writer of commits and keys: idempotent, acknowledged by every in-sync replica, sent
/// at once (a command waits for its append).
pub(crate) fn writer(bootstrap: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "0");
    config
}
