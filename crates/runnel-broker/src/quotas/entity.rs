//! Quota entities, quota keys, and the table of configured quotas with Kafka's precedence.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The principal name of a connection that did not authenticate (Kafka's `ANONYMOUS`).
pub const ANONYMOUS: &str = "ANONYMOUS";

/// The entity types of AlterClientQuotas and DescribeClientQuotas that Runnel knows.
pub const USER: &str = "user";
pub const CLIENT_ID: &str = "client-id";

/// One component of an entity: a given name, or the default for all names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Name {
    Default,
    Named(String),
}

impl Name {
    /// As on the wire: the default is a null name.
    pub fn from_wire(name: Option<&str>) -> Name {
        name.map_or(Name::Default, |n| Name::Named(n.to_owned()))
    }

    pub fn as_wire(&self) -> Option<&str> {
        match self {
            Name::Default => None,
            Name::Named(name) => Some(name),
        }
    }
}

/// What a quota applies to: a user, a client id, or a client id of a user, each given or
/// the default. At least one component is present.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Entity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<Name>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<Name>,
}

impl fmt::Display for Entity {
    /// Kafka's path notation: `/users/alice/clients/<default>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |name: &Name| match name {
            Name::Default => "<default>".to_owned(),
            Name::Named(n) => n.clone(),
        };
        if let Some(user) = &self.user {
            write!(f, "/users/{}", show(user))?;
        }
        if let Some(client) = &self.client_id {
            write!(f, "/clients/{}", show(client))?;
        }
        Ok(())
    }
}

/// A quota's key, as Kafka names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuotaKey {
    /// Bytes per second a client may produce.
    ProducerByteRate,
    /// Bytes per second a client may fetch.
    ConsumerByteRate,
    /// Percentage of one thread's time a client's requests may take to handle.
    RequestPercentage,
}

impl QuotaKey {
    pub const ALL: [QuotaKey; 3] = [
        QuotaKey::ProducerByteRate,
        QuotaKey::ConsumerByteRate,
        QuotaKey::RequestPercentage,
    ];

    pub fn name(self) -> &'static str {
        match self {
            QuotaKey::ProducerByteRate => "producer_byte_rate",
            QuotaKey::ConsumerByteRate => "consumer_byte_rate",
            QuotaKey::RequestPercentage => "request_percentage",
        }
    }

    pub fn from_name(name: &str) -> Option<QuotaKey> {
        QuotaKey::ALL.into_iter().find(|key| key.name() == name)
    }

    /// A quota's value as an amount per second: bytes for the byte rates; for
    /// `request_percentage`, ms of handling (100% of a thread is 1000 ms per second).
    pub fn per_second(self, value: f64) -> f64 {
        match self {
            QuotaKey::RequestPercentage => value * 10.0,
            QuotaKey::ProducerByteRate | QuotaKey::ConsumerByteRate => value,
        }
    }

    /// Checks a value for this key: a positive number, whole for the byte rates (Kafka's
    /// byte rates are longs).
    pub fn validate(self, value: f64) -> Result<(), String> {
        if !value.is_finite() || value <= 0.0 {
            return Err(format!(
                "{} must be a positive number, not {value}",
                self.name()
            ));
        }
        if self != QuotaKey::RequestPercentage && value.fract() != 0.0 {
            return Err(format!(
                "{} must be a whole number of bytes per second, not {value}",
                self.name()
            ));
        }
        Ok(())
    }
}

/// Who a connection is, for quotas: its principal's name and the client id of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client<'a> {
    pub user: &'a str,
    pub client_id: &'a str,
}

/// The configured quotas, by entity.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QuotaTable {
    entries: BTreeMap<Entity, BTreeMap<QuotaKey, f64>>,
}

impl QuotaTable {
    pub fn entities(&self) -> impl Iterator<Item = (&Entity, &BTreeMap<QuotaKey, f64>)> {
        self.entries.iter()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Sets (`Some`) or removes (`None`) one quota; an entity left without quotas goes.
    pub fn set(&mut self, entity: &Entity, key: QuotaKey, value: Option<f64>) {
        match value {
            Some(value) => {
                self.entries
                    .entry(entity.clone())
                    .or_default()
                    .insert(key, value);
            }
            None => {
                if let Some(quotas) = self.entries.get_mut(entity) {
                    quotas.remove(&key);
                    if quotas.is_empty() {
                        self.entries.remove(entity);
                    }
                }
            }
        }
    }

    /// The quota of `key` that applies to `client`, and the entity it was configured on,
    /// by Kafka's precedence: the most specific of the eight entities that match wins.
    pub fn resolve(&self, client: Client<'_>, key: QuotaKey) -> Option<(&Entity, f64)> {
        let user = || Some(Name::Named(client.user.to_owned()));
        let id = || Some(Name::Named(client.client_id.to_owned()));
        let default = || Some(Name::Default);
        let candidates = [
            (user(), id()),
            (user(), default()),
            (user(), None),
            (default(), id()),
            (default(), default()),
            (default(), None),
            (None, id()),
            (None, default()),
        ];
        candidates.into_iter().find_map(|(user, client_id)| {
            let (entity, quotas) = self.entries.get_key_value(&Entity { user, client_id })?;
            quotas.get(&key).map(|value| (entity, *value))
        })
    }
}

/// The clients that share one measured rate: a quota configured on a default applies to
/// each user or client id on its own, as in Kafka, so the default's components are replaced
/// by the client's names, and absent components stay empty.
pub fn bucket(entity: &Entity, client: Client<'_>) -> (String, String) {
    let user = entity
        .user
        .as_ref()
        .map_or_else(String::new, |_| client.user.to_owned());
    let client_id = entity
        .client_id
        .as_ref()
        .map_or_else(String::new, |_| client.client_id.to_owned());
    (user, client_id)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn entity(user: Option<Option<&str>>, client: Option<Option<&str>>) -> Entity {
        Entity {
            user: user.map(Name::from_wire),
            client_id: client.map(Name::from_wire),
        }
    }

    #[test]
    fn the_most_specific_of_the_eight_levels_wins() {
        // Configured from least to most specific; each step must take over.
        let levels = [
            entity(None, Some(None)),
            entity(None, Some(Some("app"))),
            entity(Some(None), None),
            entity(Some(None), Some(None)),
            entity(Some(None), Some(Some("app"))),
            entity(Some(Some("alice")), None),
            entity(Some(Some("alice")), Some(None)),
            entity(Some(Some("alice")), Some(Some("app"))),
        ];
        let alice_app = Client {
            user: "alice",
            client_id: "app",
        };
        let mut table = QuotaTable::default();
        for (rank, level) in levels.iter().enumerate() {
            table.set(level, QuotaKey::ProducerByteRate, Some(rank as f64));
            let (found, value) = table
                .resolve(alice_app, QuotaKey::ProducerByteRate)
                .unwrap();
            assert_eq!(
                (found, value),
                (level, rank as f64),
                "after setting {level}"
            );
        }
        // Another user and client fall through to the defaults only.
        let other = Client {
            user: "bob",
            client_id: "tool",
        };
        assert_eq!(
            table.resolve(other, QuotaKey::ProducerByteRate).unwrap().1,
            3.0
        );
        assert_eq!(table.resolve(other, QuotaKey::ConsumerByteRate), None);
    }

    #[test]
    fn each_key_resolves_on_its_own() {
        let mut table = QuotaTable::default();
        let app = entity(None, Some(Some("app")));
        let all = entity(None, Some(None));
        table.set(&app, QuotaKey::ProducerByteRate, Some(10.0));
        table.set(&all, QuotaKey::ConsumerByteRate, Some(20.0));
        let client = Client {
            user: ANONYMOUS,
            client_id: "app",
        };
        assert_eq!(
            table.resolve(client, QuotaKey::ConsumerByteRate),
            Some((&all, 20.0))
        );
        table.set(&all, QuotaKey::ConsumerByteRate, None);
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn a_default_quota_is_measured_per_client() {
        let client = Client {
            user: ANONYMOUS,
            client_id: "app",
        };
        assert_eq!(
            bucket(&entity(None, Some(None)), client),
            (String::new(), "app".to_owned())
        );
        assert_eq!(
            bucket(&entity(Some(None), None), client),
            (ANONYMOUS.to_owned(), String::new())
        );
        assert_eq!(
            entity(Some(None), Some(Some("app"))).to_string(),
            "/users/<default>/clients/app"
        );
    }
}
