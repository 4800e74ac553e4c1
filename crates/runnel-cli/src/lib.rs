//! The `runnel` subcommands that talk to a running broker over the Kafka protocol: topic
//! administration, producing lines of standard input, consuming to standard output,
//! consumer group state with lag, transactions, client quotas and ACLs.
//!
//! Each command module defines its `clap` arguments and a `run` function writing to the
//! output it is given; the `runnel` binary only parses and dispatches. The work itself is
//! in public functions returning data (`topic::describe`, `group::list`,
//! `browse::read_page`, ...), which the web console (`runnel-console`) calls too. Clients are
//! librdkafka's (the `rdkafka` crate), so the commands exercise the broker exactly as
//! other Kafka clients do. Transactions and consumer groups of the KIP-848 protocol have no
//! librdkafka API; their requests go over [`wire`], a small client of the protocol itself.

pub mod acl;
mod admin;
pub mod browse;
mod client;
pub mod consume;
pub mod format;
pub mod group;
mod lag;
pub mod position;
pub mod produce;
pub mod quota;
pub mod settings;
pub mod share_group;
pub mod topic;
pub mod transactions;
pub mod user;
pub mod wire;

use std::path::PathBuf;
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use crate::settings::{ClientSettings, SettingsError};
use crate::wire::WireError;

/// Where the broker is, how to connect to it and how long to wait for it; shared by every
/// command.
#[derive(Debug, Clone, clap::Args)]
pub struct Connection {
    /// Broker to contact first.
    #[arg(
        short = 'b',
        long = "bootstrap-server",
        value_name = "HOST:PORT",
        default_value = "127.0.0.1:9092",
        global = true
    )]
    pub bootstrap_server: String,
    /// Give up on a request (and on delivering a produced record) after this long.
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 10_000,
        value_parser = clap::value_parser!(u64).range(1..=3_600_000),
        global = true
    )]
    pub request_timeout_ms: u64,
    /// Client settings with librdkafka's names (security.protocol, ssl.*, sasl.*, ...), one
    /// KEY=VALUE a line, as kafka-topics --command-config takes them.
    #[arg(long, value_name = "FILE", global = true)]
    pub command_config: Option<PathBuf>,
    /// A client setting with librdkafka's name (repeatable, as kcat -X); wins over
    /// --command-config.
    #[arg(short = 'X', value_name = "KEY=VALUE", global = true)]
    pub client_settings: Vec<String>,
}

impl Connection {
    /// A connection to `bootstrap_server` with the default timeout and no client settings.
    pub fn new(bootstrap_server: impl Into<String>) -> Self {
        Connection {
            bootstrap_server: bootstrap_server.into(),
            request_timeout_ms: 10_000,
            command_config: None,
            client_settings: Vec::new(),
        }
    }

    /// The client settings: the --command-config file's, then the -X ones over them.
    pub fn settings(&self) -> Result<ClientSettings, CliError> {
        let overrides = self
            .client_settings
            .iter()
            .map(|given| parse_key_value("-X", given))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ClientSettings::load(
            self.command_config.as_deref(),
            &overrides,
        )?)
    }

    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }
}

/// Why a command failed. Every message reads as one line.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("no broker answered at {bootstrap} within {timeout_ms} ms ({detail})")]
    Unreachable {
        bootstrap: String,
        timeout_ms: u64,
        detail: String,
    },
    #[error("unknown topic {0}")]
    UnknownTopic(String),
    #[error("unknown topic setting {0}")]
    UnknownSetting(String),
    #[error("unknown group {0}")]
    UnknownGroup(String),
    #[error("transactional id '{0}' not found")]
    UnknownTransactionalId(String),
    #[error("bad {flag} {given:?}: expected KEY=VALUE with a non-empty KEY")]
    BadKeyValue { flag: &'static str, given: String },
    #[error("bad --format {template:?}: {reason}")]
    BadFormat { template: String, reason: String },
    #[error("bad arguments: {0}")]
    BadArguments(String),
    #[error("cannot {action}: {code}")]
    Refused {
        action: String,
        code: RDKafkaErrorCode,
    },
    #[error("cannot {action}: {reason}")]
    Failed { action: String, reason: String },
    #[error("cannot {action}: {} (error code {code})", error_code_text(*code))]
    Broker { action: String, code: i16 },
    #[error("cannot {action} at {broker}: {source}")]
    Wire {
        action: String,
        broker: String,
        #[source]
        source: WireError,
    },
    #[error("cannot {action}: {source}")]
    Kafka {
        action: String,
        #[source]
        source: KafkaError,
    },
    #[error(
        "{failed} of {total} records were not delivered; first failure, line {line}: {reason}"
    )]
    Undelivered {
        failed: u64,
        total: u64,
        line: u64,
        reason: String,
    },
    #[error("cannot read standard input: {0}")]
    Input(#[source] std::io::Error),
    #[error("cannot write output: {0}")]
    Output(#[source] std::io::Error),
    #[error(transparent)]
    Settings(#[from] SettingsError),
}

impl CliError {
    pub(crate) fn kafka(action: impl Into<String>, source: KafkaError) -> Self {
        CliError::Kafka {
            action: action.into(),
            source,
        }
    }

    fn wire(action: &str, broker: &str, source: WireError) -> Self {
        CliError::Wire {
            action: action.to_owned(),
            broker: broker.to_owned(),
            source,
        }
    }

    /// Whether the protocol says the same request may succeed later (a coordinator that is
    /// loading or has moved, for instance).
    fn is_retriable(&self) -> bool {
        match self {
            CliError::Broker { code, .. } => {
                ResponseError::try_from_code(*code).is_some_and(|error| error.is_retriable())
            }
            _ => false,
        }
    }
}

/// A Kafka error code in words: `TransactionalIdNotFound` becomes "transactional id not
/// found".
fn error_code_text(code: i16) -> String {
    match ResponseError::try_from_code(code) {
        None => "no error".to_owned(),
        Some(ResponseError::Unknown(_)) => "an error this client does not know".to_owned(),
        Some(error) => {
            let name = error.to_string();
            let mut text = String::with_capacity(name.len() + 8);
            for c in name.chars() {
                if c.is_ascii_uppercase() && !text.is_empty() {
                    text.push(' ');
                }
                text.push(c.to_ascii_lowercase());
            }
            text
        }
    }
}

/// Splits `KEY=VALUE` at the first `=`; the value may be empty, the key may not.
pub fn parse_key_value(flag: &'static str, given: &str) -> Result<(String, String), CliError> {
    match given.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(CliError::BadKeyValue {
            flag,
            given: given.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn key_value_splits_at_the_first_equals_sign() {
        assert_eq!(
            parse_key_value("--config", "a=b=c").unwrap(),
            ("a".to_owned(), "b=c".to_owned())
        );
        assert_eq!(
            parse_key_value("--config", "a=").unwrap(),
            ("a".to_owned(), String::new())
        );
        for bad in ["a", "=b", ""] {
            let error = parse_key_value("--config", bad).unwrap_err().to_string();
            assert!(error.starts_with("bad --config"), "{error}");
        }
    }
}
