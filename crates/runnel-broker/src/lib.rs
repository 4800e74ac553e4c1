//! Runnel's broker: a single-node server speaking the Kafka wire protocol, storing each
//! partition in a [`runnel_log::Log`].
//!
//! Start one with [`Broker::start`] and stop it with [`Broker::shutdown`]. The data
//! directory layout and the configuration are described in the crate README and in
//! [`topics`].

pub mod acls;
mod broker;
pub mod codec;
pub mod config;
pub mod connections;
mod error;
pub mod fetch_sessions;
pub mod groups;
mod handlers;
pub mod listeners;
pub mod metrics;
pub mod quotas;
mod response;
pub mod sasl;
pub mod scram_credentials;
mod server;
pub mod session;
pub mod shape;
pub mod share;
pub mod tls;
pub mod topic_settings;
pub mod topics;
pub mod txn;

pub use broker::{parse_host_port, Broker, BrokerState};
pub use config::{BrokerConfig, ConfigError};
pub use error::{batch_error_code, log_error_code, topic_error_code, BrokerError, RequestError};
pub use handlers::{supported, SUPPORTED};
pub use listeners::{ListenerInfo, SecurityProtocol};
pub use session::{Principal, Session};
