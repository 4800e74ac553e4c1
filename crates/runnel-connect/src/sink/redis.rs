//! The Redis sink, a cache that follows a topic: each record SETs its key to its value (with
//! an optional expiry) or DELetes it on a tombstone or a Debezium delete, a batch per
//! pipeline. Writes are idempotent, so the at-least-once delivery of the runtime leaves the
//! cache equal to the topic's latest values.
//!
//! Settings: `redis.url` (`redis://host:port/db`), `redis.ttl.seconds` (none by default),
//! `redis.key.prefix` (prepended to every key).

use async_trait::async_trait;
use serde_json::Value;

use crate::config::ConnectorConfig;
use crate::error::{ConfigError, SinkError};
use crate::record::{Change, SinkRecord};
use crate::sink::{Positions, SinkTask};

pub struct RedisSink {
    client: redis::Client,
    ttl_seconds: Option<u64>,
    key_prefix: String,
    connection: Option<redis::aio::MultiplexedConnection>,
}

impl RedisSink {
    pub fn new(config: &ConnectorConfig) -> Result<RedisSink, ConfigError> {
        let url = config.required("redis.url")?;
        let client = redis::Client::open(url)
            .map_err(|e| ConfigError::invalid("redis.url", &e.to_string()))?;
        let ttl_seconds: u64 = config.parse("redis.ttl.seconds", 0)?;
        Ok(RedisSink {
            client,
            ttl_seconds: (ttl_seconds > 0).then_some(ttl_seconds),
            key_prefix: config.get("redis.key.prefix").unwrap_or("").to_owned(),
            connection: None,
        })
    }

    async fn write(&mut self, records: &[SinkRecord]) -> Result<(), SinkError> {
        if records.is_empty() {
            return Ok(());
        }
        let connection = match &mut self.connection {
            Some(connection) => connection,
            None => {
                let connection = self
                    .client
                    .get_multiplexed_async_connection()
                    .await
                    .map_err(classify)?;
                self.connection.insert(connection)
            }
        };
        let prefix = &self.key_prefix;
        let mut pipeline = redis::pipe();
        for record in records {
            match record.change().map_err(SinkError::Fatal)? {
                Change::Upsert { key, value } => {
                    let command = pipeline
                        .cmd("SET")
                        .arg(redis_key(prefix, key))
                        .arg(value.to_string());
                    if let Some(ttl) = self.ttl_seconds {
                        command.arg("EX").arg(ttl);
                    }
                    command.ignore();
                }
                Change::Delete { key } => {
                    pipeline.cmd("DEL").arg(redis_key(prefix, key)).ignore();
                }
            }
        }
        pipeline.exec_async(connection).await.map_err(classify)
    }
}

#[async_trait]
impl SinkTask for RedisSink {
    fn check(&self, record: &SinkRecord) -> Result<(), String> {
        record.change().map(drop)
    }

    async fn put(
        &mut self,
        records: &[SinkRecord],
        _positions: &Positions,
    ) -> Result<(), SinkError> {
        let result = self.write(records).await;
        if matches!(result, Err(SinkError::Transient(_))) {
            self.connection = None;
        }
        result
    }
}

/// The Redis key of a record key: a string as it is, anything else as its JSON text.
fn redis_key(prefix: &str, key: &Value) -> String {
    match key {
        Value::String(s) => format!("{prefix}{s}"),
        other => format!("{prefix}{other}"),
    }
}

fn classify(error: redis::RedisError) -> SinkError {
    if error.is_io_error()
        || error.is_connection_refusal()
        || error.is_connection_dropped()
        || error.is_timeout()
    {
        SinkError::Transient(error.to_string())
    } else {
        SinkError::Fatal(error.to_string())
    }
}
