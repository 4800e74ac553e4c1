//! How the runtime reaches the Kafka cluster: the settings every client it makes shares.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::config::ClientConfig;

/// How long an administration request may take.
pub(crate) const ADMIN_TIMEOUT: Duration = Duration::from_secs(10);

/// librdkafka settings shared by the runtime's clients: `bootstrap.servers` and whatever the
/// user adds (security settings, for instance).
#[derive(Debug, Clone)]
pub struct KafkaSettings {
    settings: BTreeMap<String, String>,
}

impl KafkaSettings {
    pub fn new(bootstrap_servers: &str) -> KafkaSettings {
        let mut settings = BTreeMap::new();
        settings.insert("bootstrap.servers".to_owned(), bootstrap_servers.to_owned());
        KafkaSettings { settings }
    }

    /// Adds a librdkafka setting for every client.
    pub fn set(&mut self, key: &str, value: &str) {
        self.settings.insert(key.to_owned(), value.to_owned());
    }

    pub(crate) fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        for (key, value) in &self.settings {
            config.set(key, value);
        }
        config
    }
}
