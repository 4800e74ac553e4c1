//! How the runtime reaches the Kafka cluster: the settings its clients share, as a Kafka
//! Connect worker takes them (its security settings among them: `security.protocol`,
//! `ssl.*`, `sasl.*`).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use rdkafka::config::ClientConfig;

use crate::error::ConfigError;

/// How long an administration request may take.
pub(crate) const ADMIN_TIMEOUT: Duration = Duration::from_secs(10);

/// The kinds of client the runtime makes, each with the worker settings of its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ClientRole {
    /// The source tasks', the dead-letter and the offsets producers (`producer.`).
    Producer,
    /// The sink tasks' and the offsets readers (`consumer.`).
    Consumer,
    /// Topic creation and group deletion (`admin.`).
    Admin,
}

impl ClientRole {
    const ALL: [ClientRole; 3] = [
        ClientRole::Producer,
        ClientRole::Consumer,
        ClientRole::Admin,
    ];

    fn prefix(self) -> &'static str {
        match self {
            ClientRole::Producer => "producer.",
            ClientRole::Consumer => "consumer.",
            ClientRole::Admin => "admin.",
        }
    }
}

/// librdkafka settings of the runtime's clients: `bootstrap.servers` and whatever the worker
/// is given. As in a Kafka Connect worker's properties, a setting applies to every client,
/// and one prefixed `producer.`, `consumer.` or `admin.` only to that kind of client (and
/// wins over the unprefixed one).
#[derive(Debug, Clone)]
pub struct KafkaSettings {
    common: BTreeMap<String, String>,
    per_role: BTreeMap<ClientRole, BTreeMap<String, String>>,
}

impl KafkaSettings {
    pub fn new(bootstrap_servers: &str) -> KafkaSettings {
        let mut common = BTreeMap::new();
        common.insert("bootstrap.servers".to_owned(), bootstrap_servers.to_owned());
        KafkaSettings {
            common,
            per_role: BTreeMap::new(),
        }
    }

    /// Adds a setting with Kafka Connect's worker name: for every client, or for one kind
    /// when prefixed `producer.`, `consumer.` or `admin.`.
    pub fn set(&mut self, key: &str, value: &str) {
        let role = ClientRole::ALL
            .into_iter()
            .find_map(|role| Some((role, key.strip_prefix(role.prefix())?)));
        match role {
            Some((role, key)) => {
                self.per_role
                    .entry(role)
                    .or_default()
                    .insert(key.to_owned(), value.to_owned());
            }
            None => {
                self.common.insert(key.to_owned(), value.to_owned());
            }
        }
    }

    /// Adds the settings of a worker properties file (Java's format: `key=value` or
    /// `key: value` lines, `#` and `!` comments).
    pub fn read_properties(&mut self, path: &Path) -> Result<(), ConfigError> {
        let refused = |reason: String| ConfigError::WorkerProperties {
            path: path.display().to_string(),
            reason,
        };
        let text =
            std::fs::read_to_string(path).map_err(|e| refused(format!("cannot read: {e}")))?;
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
                continue;
            }
            let Some(at) = line.find(['=', ':']) else {
                return Err(refused(format!(
                    "line {}: expected key=value, got {line:?}",
                    number + 1
                )));
            };
            self.set(line[..at].trim(), line[at + 1..].trim());
        }
        Ok(())
    }

    /// The settings of a client of `role`: the common ones, then the role's own.
    pub(crate) fn client_config(&self, role: ClientRole) -> ClientConfig {
        let mut config = ClientConfig::new();
        let own = self.per_role.get(&role).into_iter().flatten();
        for (key, value) in self.common.iter().chain(own) {
            config.set(key, value);
        }
        config
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn get(config: &ClientConfig, key: &str) -> Option<String> {
        config.get(key).map(str::to_owned)
    }

    #[test]
    fn prefixed_settings_apply_to_their_kind_of_client_only_and_win() {
        let mut kafka = KafkaSettings::new("broker:9093");
        kafka.set("security.protocol", "ssl");
        kafka.set("ssl.ca.location", "/ca.pem");
        kafka.set("producer.ssl.ca.location", "/producer-ca.pem");
        kafka.set("consumer.fetch.wait.max.ms", "10");
        let producer = kafka.client_config(ClientRole::Producer);
        let consumer = kafka.client_config(ClientRole::Consumer);
        let admin = kafka.client_config(ClientRole::Admin);
        for config in [&producer, &consumer, &admin] {
            assert_eq!(get(config, "bootstrap.servers").unwrap(), "broker:9093");
            assert_eq!(get(config, "security.protocol").unwrap(), "ssl");
        }
        assert_eq!(
            get(&producer, "ssl.ca.location").unwrap(),
            "/producer-ca.pem"
        );
        assert_eq!(get(&consumer, "ssl.ca.location").unwrap(), "/ca.pem");
        assert_eq!(get(&consumer, "fetch.wait.max.ms").unwrap(), "10");
        assert_eq!(get(&producer, "fetch.wait.max.ms"), None);
        assert_eq!(get(&admin, "fetch.wait.max.ms"), None);
    }

    #[test]
    fn a_properties_file_is_read_as_java_writes_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("worker.properties");
        std::fs::write(
            &path,
            "# security\n! also a comment\n\nsecurity.protocol = SSL\nssl.key.password: s=cret\n  admin.client.id=ops\n",
        )
        .unwrap();
        let mut kafka = KafkaSettings::new("broker:9093");
        kafka.read_properties(&path).unwrap();
        let admin = kafka.client_config(ClientRole::Admin);
        assert_eq!(get(&admin, "security.protocol").unwrap(), "SSL");
        assert_eq!(get(&admin, "ssl.key.password").unwrap(), "s=cret");
        assert_eq!(get(&admin, "client.id").unwrap(), "ops");

        std::fs::write(&path, "security.protocol=SSL\nnonsense\n").unwrap();
        let error = kafka.read_properties(&path).unwrap_err().to_string();
        assert!(
            error.contains("worker.properties: line 2: expected key=value"),
            "{error}"
        );
        let missing = kafka
            .read_properties(&dir.path().join("missing"))
            .unwrap_err();
        assert!(missing.to_string().contains("cannot read"), "{missing}");
    }
}
