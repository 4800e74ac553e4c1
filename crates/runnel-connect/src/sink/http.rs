//! The HTTP webhook sink: each batch is POSTed as a JSON array of records. Every record
//! carries an idempotency key, `topic-partition-offset`, so a receiver can drop the
//! redeliveries that at-least-once implies; with `http.hmac.secret` set, the body is signed
//! with HMAC-SHA256 in the `X-Runnel-Signature: sha256=<hex>` header. Connection failures,
//! 408, 429 and 5xx answers are retried with backoff; other answers fail the task.
//!
//! Settings: `http.url`, `http.hmac.secret`, `http.timeout.ms` (default 30000).

use std::time::Duration;

use async_trait::async_trait;
use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use serde_json::Value;
use sha2::Sha256;

use crate::config::ConnectorConfig;
use crate::error::{ConfigError, SinkError};
use crate::record::SinkRecord;
use crate::sink::{Positions, SinkTask};

/// The header holding the body's signature.
pub const SIGNATURE_HEADER: &str = "X-Runnel-Signature";

pub struct HttpSink {
    client: reqwest::Client,
    url: reqwest::Url,
    secret: Option<Vec<u8>>,
}

/// One record as the receiver sees it.
#[derive(Debug, Serialize)]
struct Delivered<'a> {
    idempotency_key: String,
    topic: &'a str,
    partition: i32,
    offset: i64,
    timestamp: Option<i64>,
    key: &'a Option<Value>,
    value: &'a Option<Value>,
    headers: serde_json::Map<String, Value>,
}

impl HttpSink {
    pub fn new(config: &ConnectorConfig) -> Result<HttpSink, ConfigError> {
        let url: reqwest::Url = config
            .required("http.url")?
            .parse()
            .map_err(|e| ConfigError::invalid("http.url", &format!("{e}")))?;
        if url.scheme() != "http" {
            return Err(ConfigError::invalid(
                "http.url",
                "only http:// endpoints are supported (no TLS client is built in)",
            ));
        }
        let timeout_ms: u64 = config.parse("http.timeout.ms", 30_000)?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(timeout_ms.max(1)))
            .build()
            .map_err(|e| ConfigError::invalid("http.url", &e.to_string()))?;
        Ok(HttpSink {
            client,
            url,
            secret: config
                .get("http.hmac.secret")
                .map(|s| s.as_bytes().to_vec()),
        })
    }
}

#[async_trait]
impl SinkTask for HttpSink {
    fn check(&self, _record: &SinkRecord) -> Result<(), String> {
        Ok(())
    }

    async fn put(
        &mut self,
        records: &[SinkRecord],
        _positions: &Positions,
    ) -> Result<(), SinkError> {
        if records.is_empty() {
            return Ok(());
        }
        let delivered: Vec<Delivered<'_>> = records.iter().map(delivered).collect();
        let body = serde_json::to_vec(&delivered)
            .map_err(|e| SinkError::Fatal(format!("cannot encode the batch: {e}")))?;
        let mut request = self
            .client
            .post(self.url.clone())
            .header("Content-Type", "application/json");
        if let Some(secret) = &self.secret {
            request = request.header(SIGNATURE_HEADER, format!("sha256={}", sign(secret, &body)));
        }
        let response = request
            .body(body)
            .send()
            .await
            .map_err(|e| SinkError::Transient(format!("POST {}: {e}", self.url)))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else if status.is_server_error()
            || status == reqwest::StatusCode::TOO_MANY_REQUESTS
            || status == reqwest::StatusCode::REQUEST_TIMEOUT
        {
            Err(SinkError::Transient(format!(
                "POST {} answered {status}",
                self.url
            )))
        } else {
            Err(SinkError::Fatal(format!(
                "POST {} answered {status}",
                self.url
            )))
        }
    }
}

fn delivered(record: &SinkRecord) -> Delivered<'_> {
    Delivered {
        idempotency_key: format!(
            "{}-{}-{}",
            record.original_topic, record.partition, record.offset
        ),
        topic: &record.topic,
        partition: record.partition,
        offset: record.offset,
        timestamp: record.timestamp,
        key: &record.key,
        value: &record.value,
        headers: record
            .headers
            .iter()
            .map(|(name, value)| {
                let value = value.as_deref().map_or(Value::Null, |v| {
                    Value::String(String::from_utf8_lossy(v).into_owned())
                });
                (name.clone(), value)
            })
            .collect(),
    }
}

/// The hex HMAC-SHA256 of `body` under `secret`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_rfc_4231_case_2() {
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
