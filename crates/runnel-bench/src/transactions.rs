//! `bench produce --transaction-ms`: the producer's records go in transactions, one
//! committed every interval and the next opened at once.
//!
//! librdkafka's `commit_transaction` first waits for every record of the transaction to be
//! acknowledged, so when a commit returns, the delivery reports counted so far are exactly
//! the records of committed transactions. A transaction that cannot commit is aborted and
//! ends the run, so a report only ever counts committed records.
//!
//! The producer cannot send for the next transaction while a commit is under way (librdkafka
//! refuses records until the commit has returned), so the sending stops at each commit, as
//! in any client's transactional producer.
//!
//! Before committing, the bench itself waits for the last acknowledgement, see
//! [`Transactions::await_acknowledgements`]: the rdkafka crate's `commit_transaction` would
//! otherwise add up to 100 ms to every transaction.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rdkafka::producer::{Producer, ProducerContext, ThreadedProducer};

use crate::error::BenchError;

/// How often a commit checks whether the transaction's records are all acknowledged.
const ACK_CHECK: Duration = Duration::from_micros(200);

/// Producers started by this process, so every one gets its own transactional id: two
/// producers sharing an id would fence each other.
static PRODUCERS: AtomicU64 = AtomicU64::new(0);

/// A transactional id no other producer of this process uses.
pub(crate) fn transactional_id() -> String {
    let n = PRODUCERS.fetch_add(1, Ordering::Relaxed);
    format!("runnel-bench-{}-{n}", std::process::id())
}

/// The open transaction of one producer, and the count of those committed before it.
pub(crate) struct Transactions<'a, C: ProducerContext + 'static> {
    producer: &'a ThreadedProducer<C>,
    interval: Duration,
    /// How long a commit (with the acknowledgements it waits for) may take.
    timeout: Duration,
    opened: Instant,
    committed: u64,
}

impl<'a, C: ProducerContext + 'static> Transactions<'a, C> {
    /// Registers the producer's transactional id with its coordinator and opens the first
    /// transaction.
    pub(crate) fn start(
        producer: &'a ThreadedProducer<C>,
        interval: Duration,
        timeout: Duration,
    ) -> Result<Self, BenchError> {
        producer
            .init_transactions(timeout)
            .map_err(BenchError::kafka("cannot initialize transactions"))?;
        producer
            .begin_transaction()
            .map_err(BenchError::kafka("cannot begin the first transaction"))?;
        Ok(Transactions {
            producer,
            interval,
            timeout,
            opened: Instant::now(),
            committed: 0,
        })
    }

    /// Commits the open transaction and opens the next one if the interval has passed.
    pub(crate) fn commit_if_due(&mut self) -> Result<(), BenchError> {
        if self.opened.elapsed() < self.interval {
            return Ok(());
        }
        self.commit()?;
        self.producer
            .begin_transaction()
            .map_err(BenchError::kafka(format!(
                "cannot begin transaction {}",
                self.committed + 1
            )))?;
        self.opened = Instant::now();
        Ok(())
    }

    /// Commits the last transaction; returns how many were committed in all.
    pub(crate) fn finish(mut self) -> Result<u64, BenchError> {
        self.commit()?;
        Ok(self.committed)
    }

    fn commit(&mut self) -> Result<(), BenchError> {
        self.await_acknowledgements();
        if let Err(error) = self.producer.commit_transaction(self.timeout) {
            // Leave nothing open on the broker; the commit's error is the one to report.
            let _ = self.producer.abort_transaction(self.timeout);
            return Err(BenchError::Kafka {
                context: format!("cannot commit transaction {}", self.committed + 1),
                source: error,
            });
        }
        self.committed += 1;
        Ok(())
    }

    /// Waits until every record sent so far is acknowledged (its delivery report served by
    /// the producer's polling thread), or until the commit's timeout.
    ///
    /// rdkafka 0.39's `commit_transaction` flushes before it calls librdkafka's: it asks
    /// librdkafka once, without waiting, whether any record is still unacknowledged, and if
    /// so serves the event queue for 100 ms (the whole 100 ms, however soon the last
    /// acknowledgement arrives: `BaseProducer::poll` returns only at its deadline) before it
    /// asks again. A transaction that ends with records in flight, as every transaction of an
    /// unthrottled run does, thus took its interval plus up to 100 ms. Called when nothing is
    /// in flight any more, that flush returns at once, and so does librdkafka's own flush
    /// inside the commit.
    fn await_acknowledgements(&self) {
        let waiting = Instant::now();
        while self.producer.in_flight_count() > 0 && waiting.elapsed() < self.timeout {
            std::thread::sleep(ACK_CHECK);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transactional_ids_are_distinct_within_a_process() {
        let (a, b) = (transactional_id(), transactional_id());
        assert_ne!(a, b);
        let prefix = format!("runnel-bench-{}-", std::process::id());
        assert!(a.starts_with(&prefix) && b.starts_with(&prefix), "{a} {b}");
    }
}
