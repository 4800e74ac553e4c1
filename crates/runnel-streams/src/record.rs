/// Milliseconds since the Unix epoch, in event time unless said otherwise. Durations
/// (window sizes, grace periods, bounds) are milliseconds too. `i64::MAX` is the end of
/// time (the watermark when the input ends), never a record's time: no window reaches it.
pub type Timestamp = i64;

/// One record of a stream: what a Kafka record carries that processing looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<K, V> {
    pub key: K,
    pub value: V,
    /// When the event happened (event time), not when it was read.
    pub timestamp: Timestamp,
    /// The input partition it was read from; watermarks are tracked per partition.
    pub partition: u32,
}

impl<K, V> Record<K, V> {
    pub fn new(key: K, value: V, timestamp: Timestamp, partition: u32) -> Self {
        Record {
            key,
            value,
            timestamp,
            partition,
        }
    }
}
