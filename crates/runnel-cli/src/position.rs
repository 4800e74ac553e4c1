//! A position in a partition (its start, its end, an offset or a time) turned into the
//! offset it names now: the one rule `consume`, the message browser and
//! `group reset-offsets` share.

use std::time::Duration;

use rdkafka::consumer::{Consumer, ConsumerContext};
use rdkafka::{Offset, TopicPartitionList};

use crate::CliError;

/// Where to read from, or reset a group to, in a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// The log start.
    Earliest,
    /// The log end.
    Latest,
    /// This offset, clamped to the retained range (log start to log end): out of it a
    /// fetch would fail, and "from offset N" would jump wherever the reset policy says.
    Offset(i64),
    /// The first record with a timestamp at or after this one (ms since the epoch); the
    /// log end when there is none, so that only records yet to come qualify.
    Timestamp(i64),
}

/// The offset each `(partition, position)` of `topic` names now, in the order given.
pub(crate) fn resolve<C, K>(
    consumer: &K,
    topic: &str,
    positions: &[(i32, Position)],
    timeout: Duration,
) -> Result<Vec<(i32, i64)>, CliError>
where
    C: ConsumerContext + 'static,
    K: Consumer<C>,
{
    let by_time =
        {
            let mut query = TopicPartitionList::new();
            for &(partition, position) in positions {
                if let Position::Timestamp(ms) = position {
                    // librdkafka takes no negative time; one before the epoch precedes every
                    // record as the epoch does.
                    query
                        .add_partition_offset(topic, partition, Offset::Offset(ms.max(0)))
                        .map_err(|e| CliError::kafka(format!("look up offsets of {topic}"), e))?;
                }
            }
            if query.count() == 0 {
                None
            } else {
                Some(consumer.offsets_for_times(query, timeout).map_err(|e| {
                    CliError::kafka(format!("look up offsets of {topic} by time"), e)
                })?)
            }
        };
    positions
        .iter()
        .map(|&(partition, position)| {
            let (start, end) = consumer
                .fetch_watermarks(topic, partition, timeout)
                .map_err(|e| CliError::kafka(format!("read offsets of {topic}-{partition}"), e))?;
            let offset = match position {
                Position::Earliest => start,
                Position::Latest => end,
                Position::Offset(offset) => offset.clamp(start, end),
                Position::Timestamp(_) => match by_time
                    .as_ref()
                    .and_then(|found| found.find_partition(topic, partition))
                    .map(|element| element.offset())
                {
                    Some(Offset::Offset(offset)) => offset.clamp(start, end),
                    _ => end,
                },
            };
            Ok((partition, offset))
        })
        .collect()
}
