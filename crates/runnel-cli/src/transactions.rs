//! `runnel transactions`: the transactions held by the transaction coordinators.
//!
//! `list` asks every broker (ListTransactions), because each one coordinates the
//! transactional ids that hash to its partitions of `__transaction_state`. `describe` asks
//! the coordinator of one id (FindCoordinator, then DescribeTransactions). librdkafka has
//! no API for these, so they go over [`crate::wire`].

use std::io::{self, Write};
use std::time::Instant;

use clap::{Args, Subcommand};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_transactions_response::TransactionState;
use kafka_protocol::messages::{
    ApiKey, DescribeTransactionsRequest, DescribeTransactionsResponse, ListTransactionsRequest,
    ListTransactionsResponse, ProducerId, TransactionalId,
};
use kafka_protocol::protocol::{StrBytes, VersionRange};
use serde::Serialize;

use crate::admin::{brokers, call, check, find_coordinator, open, version, with_retries, KeyType};
use crate::format::{write_fields, Table};
use crate::{CliError, Connection};

/// ListTransactions v1 adds a duration filter, left unset here; v2's id pattern filter is
/// not offered, so there is no reason to ask for it.
const LIST_VERSIONS: VersionRange = VersionRange { min: 0, max: 1 };

/// DescribeTransactions has a single version.
const DESCRIBE_VERSIONS: VersionRange = VersionRange { min: 0, max: 0 };

#[derive(Debug, Args)]
pub struct TransactionsArgs {
    #[command(flatten)]
    pub connection: Connection,
    #[command(subcommand)]
    pub command: TransactionsCommand,
}

#[derive(Debug, Subcommand)]
pub enum TransactionsCommand {
    /// List transactional ids with their producer id and state, from every broker.
    List {
        /// Only transactions in these states (comma-separated), e.g. Ongoing,PrepareCommit.
        #[arg(long = "state", value_name = "STATE", value_delimiter = ',')]
        states: Vec<String>,
        /// Only transactions of these producer ids (comma-separated).
        #[arg(long = "producer-id", value_name = "ID", value_delimiter = ',')]
        producer_ids: Vec<i64>,
    },
    /// Show a transaction's producer, state, timeout, start time and partitions.
    Describe {
        #[arg(long, value_name = "ID")]
        transactional_id: String,
    },
}

pub fn run(args: &TransactionsArgs, out: &mut impl Write) -> Result<(), CliError> {
    let connection = &args.connection;
    match &args.command {
        TransactionsCommand::List {
            states,
            producer_ids,
        } => {
            let listed = list(connection, states, producer_ids)?;
            write_list(out, listed).map_err(CliError::Output)
        }
        TransactionsCommand::Describe { transactional_id } => {
            let described = describe(connection, transactional_id)?;
            write_description(out, &described).map_err(CliError::Output)
        }
    }
}

/// Every transactional id the cluster's coordinators hold, optionally only those in
/// `states` or of `producer_ids`, ordered by transactional id.
pub fn list(
    connection: &Connection,
    states: &[String],
    producer_ids: &[i64],
) -> Result<Vec<Listed>, CliError> {
    let action = "list transactions";
    let deadline = Instant::now() + connection.timeout();
    let mut bootstrap = open(connection, &connection.bootstrap_server)?;
    let request = ListTransactionsRequest::default()
        .with_state_filters(states.iter().cloned().map(StrBytes::from_string).collect())
        .with_producer_id_filters(producer_ids.iter().copied().map(ProducerId).collect());
    let mut listed = Vec::new();
    for address in brokers(&mut bootstrap, action)? {
        let mut broker = open(connection, &address)?;
        let version = version(&broker, ApiKey::ListTransactions, LIST_VERSIONS, action)?;
        let response = with_retries(deadline, || {
            let response: ListTransactionsResponse = call(
                &mut broker,
                action,
                ApiKey::ListTransactions,
                version,
                &request,
            )?;
            check(action, response.error_code).map(|()| response)
        })?;
        if let Some(unknown) = response.unknown_state_filters.first() {
            return Err(CliError::BadArguments(format!(
                "--state {unknown}: the broker knows no such transaction state"
            )));
        }
        listed.extend(response.transaction_states.into_iter().map(|t| Listed {
            transactional_id: t.transactional_id.0.to_string(),
            producer_id: t.producer_id.0,
            state: t.transaction_state.to_string(),
        }));
    }
    listed.sort_by(|a, b| a.transactional_id.cmp(&b.transactional_id));
    Ok(listed)
}

/// One transactional id's producer, state, timeout and partitions, from its coordinator.
pub fn describe(connection: &Connection, id: &str) -> Result<Described, CliError> {
    let action = format!("describe transactional id '{id}'");
    let deadline = Instant::now() + connection.timeout();
    let mut bootstrap = open(connection, &connection.bootstrap_server)?;
    with_retries(deadline, || {
        let (node, address) = find_coordinator(&mut bootstrap, id, KeyType::Transaction, &action)?;
        let mut coordinator = open(connection, &address)?;
        let version = version(
            &coordinator,
            ApiKey::DescribeTransactions,
            DESCRIBE_VERSIONS,
            &action,
        )?;
        let request = DescribeTransactionsRequest::default()
            .with_transactional_ids(vec![TransactionalId(StrBytes::from_string(id.to_owned()))]);
        let response: DescribeTransactionsResponse = call(
            &mut coordinator,
            &action,
            ApiKey::DescribeTransactions,
            version,
            &request,
        )?;
        let state = response
            .transaction_states
            .into_iter()
            .find(|state| state.transactional_id.0.as_str() == id)
            .ok_or_else(|| CliError::Failed {
                action: action.clone(),
                reason: "the coordinator's answer leaves it out".to_owned(),
            })?;
        check_described(id, state.error_code)?;
        Ok(Described::new(node, state))
    })
}

/// The error code of one transactional id's description as a result; an unknown id gets
/// its own message.
fn check_described(id: &str, code: i16) -> Result<(), CliError> {
    if code == ResponseError::TransactionalIdNotFound.code() {
        return Err(CliError::UnknownTransactionalId(id.to_owned()));
    }
    check(&format!("describe transactional id '{id}'"), code)
}

/// One transaction as `list` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listed {
    pub transactional_id: String,
    pub producer_id: i64,
    pub state: String,
}

/// A table of transactions, in the order given.
fn write_list(out: &mut impl Write, listed: Vec<Listed>) -> io::Result<()> {
    let mut table = Table::new(&["TRANSACTIONAL-ID", "PRODUCER-ID", "STATE"]);
    for transaction in listed {
        table.row(vec![
            transaction.transactional_id,
            transaction.producer_id.to_string(),
            transaction.state,
        ]);
    }
    table.write(out)
}

/// One transaction as `describe` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Described {
    pub transactional_id: String,
    /// The node id of its coordinator.
    pub coordinator: i32,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub state: String,
    pub timeout_ms: i32,
    /// Negative when no transaction is open.
    pub start_time_ms: i64,
    /// The partitions of the open transaction, by topic and partition.
    pub partitions: Vec<(String, i32)>,
}

impl Described {
    fn new(coordinator: i32, state: TransactionState) -> Described {
        let mut partitions: Vec<(String, i32)> = state
            .topics
            .iter()
            .flat_map(|topic| {
                let name = topic.topic.0.to_string();
                topic.partitions.iter().map(move |&p| (name.clone(), p))
            })
            .collect();
        partitions.sort();
        Described {
            transactional_id: state.transactional_id.0.to_string(),
            coordinator,
            producer_id: state.producer_id.0,
            producer_epoch: state.producer_epoch,
            state: state.transaction_state.to_string(),
            timeout_ms: state.transaction_timeout_ms,
            start_time_ms: state.transaction_start_time_ms,
            partitions,
        }
    }
}

/// The transaction's fields, then a table of its partitions.
fn write_description(out: &mut impl Write, described: &Described) -> io::Result<()> {
    let start = if described.start_time_ms < 0 {
        "-".to_owned()
    } else {
        described.start_time_ms.to_string()
    };
    write_fields(
        out,
        &[
            ("TransactionalId", described.transactional_id.clone()),
            ("Coordinator", described.coordinator.to_string()),
            ("ProducerId", described.producer_id.to_string()),
            ("ProducerEpoch", described.producer_epoch.to_string()),
            ("State", described.state.clone()),
            ("TimeoutMs", described.timeout_ms.to_string()),
            ("StartTimeMs", start),
        ],
    )?;
    writeln!(out)?;
    let mut table = Table::new(&["TOPIC", "PARTITION"]);
    for (topic, partition) in &described.partitions {
        table.row(vec![topic.clone(), partition.to_string()]);
    }
    table.write(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use kafka_protocol::messages::describe_transactions_response::TopicData;
    use kafka_protocol::messages::TopicName;

    use super::*;

    fn listed(id: &str, producer_id: i64, state: &str) -> Listed {
        Listed {
            transactional_id: id.to_owned(),
            producer_id,
            state: state.to_owned(),
        }
    }

    fn text(write: impl FnOnce(&mut Vec<u8>) -> io::Result<()>) -> String {
        let mut out = Vec::new();
        write(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn list_prints_a_table_of_the_transactions() {
        let rows = vec![
            listed("orders-writer", 1000, "Ongoing"),
            listed("payments", 7, "CompleteCommit"),
        ];
        assert_eq!(
            text(|out| write_list(out, rows)),
            "TRANSACTIONAL-ID  PRODUCER-ID  STATE\n\
             orders-writer     1000         Ongoing\n\
             payments          7            CompleteCommit\n"
        );
        assert_eq!(
            text(|out| write_list(out, Vec::new())),
            "TRANSACTIONAL-ID  PRODUCER-ID  STATE\n"
        );
    }

    fn state(start_time_ms: i64, topics: &[(&str, &[i32])]) -> TransactionState {
        TransactionState::default()
            .with_transactional_id(TransactionalId(StrBytes::from_static_str("tx")))
            .with_transaction_state(StrBytes::from_static_str("Ongoing"))
            .with_transaction_timeout_ms(60_000)
            .with_transaction_start_time_ms(start_time_ms)
            .with_producer_id(ProducerId(1000))
            .with_producer_epoch(3)
            .with_topics(
                topics
                    .iter()
                    .map(|(name, partitions)| {
                        TopicData::default()
                            .with_topic(TopicName(StrBytes::from_string((*name).to_owned())))
                            .with_partitions(partitions.to_vec())
                    })
                    .collect(),
            )
    }

    #[test]
    fn describe_prints_fields_then_the_partitions_in_order() {
        let described = Described::new(0, state(1_700_000_000_123, &[("b", &[1]), ("a", &[2, 0])]));
        assert_eq!(
            text(|out| write_description(out, &described)),
            "TransactionalId:  tx\n\
             Coordinator:      0\n\
             ProducerId:       1000\n\
             ProducerEpoch:    3\n\
             State:            Ongoing\n\
             TimeoutMs:        60000\n\
             StartTimeMs:      1700000000123\n\
             \n\
             TOPIC  PARTITION\n\
             a      0\n\
             a      2\n\
             b      1\n"
        );
    }

    #[test]
    fn describe_prints_a_dash_without_an_open_transaction() {
        let described = Described::new(2, state(-1, &[]));
        let printed = text(|out| write_description(out, &described));
        assert!(printed.contains("StartTimeMs:      -\n"), "{printed}");
        assert!(printed.ends_with("\nTOPIC  PARTITION\n"), "{printed}");
    }

    #[test]
    fn error_codes_become_readable_errors() {
        assert!(check_described("tx", 0).is_ok());
        let cases = [
            (105, "transactional id 'tx' not found"),
            (
                53,
                "cannot describe transactional id 'tx': transactional id authorization \
                 failed (error code 53)",
            ),
            (
                -1,
                "cannot describe transactional id 'tx': unknown server error (error code -1)",
            ),
            (
                999,
                "cannot describe transactional id 'tx': an error this client does not know \
                 (error code 999)",
            ),
        ];
        for (code, message) in cases {
            assert_eq!(
                check_described("tx", code).unwrap_err().to_string(),
                message
            );
        }
        let loading = check("list transactions", 14).unwrap_err();
        assert_eq!(
            loading.to_string(),
            "cannot list transactions: coordinator load in progress (error code 14)"
        );
        assert!(loading.is_retriable());
        assert!(!check_described("tx", 105).unwrap_err().is_retriable());
    }

    #[test]
    fn retriable_errors_are_retried_until_the_deadline() {
        let mut attempts = 0;
        let outcome = with_retries(Instant::now() + Duration::from_secs(10), || {
            attempts += 1;
            check("list transactions", if attempts < 3 { 15 } else { 0 }).map(|()| attempts)
        });
        assert_eq!(outcome.unwrap(), 3);

        let mut attempts = 0;
        let outcome = with_retries(Instant::now(), || {
            attempts += 1;
            check("list transactions", 15)
        });
        assert!(outcome.is_err());
        assert_eq!(attempts, 1, "no time for another try");

        let mut attempts = 0;
        let outcome = with_retries(Instant::now() + Duration::from_secs(10), || {
            attempts += 1;
            check_described("tx", 105)
        });
        assert!(outcome.is_err());
        assert_eq!(attempts, 1, "not retriable");
    }
}
