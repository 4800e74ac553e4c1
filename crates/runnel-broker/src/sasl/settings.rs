//! The SASL settings, named as Kafka names them.

use std::collections::BTreeMap;

use runnel_auth::{Mechanism, ScramMechanism};

/// A SASL setting's value was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidValue;

/// `sasl.enabled.mechanisms` (and per listener), `connections.max.reauth.ms`,
/// `connection.failed.authentication.delay.ms`, `sasl.server.max.receive.size`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslSettings {
    /// `sasl.enabled.mechanisms`: what SASL listeners offer, unless their own setting says
    /// otherwise. Kafka's default, GSSAPI, does not exist in Runnel; the default is the two
    /// SCRAM mechanisms, which never send the password. PLAIN is enabled by naming it.
    pub enabled_mechanisms: Vec<Mechanism>,
    /// `listener.name.<name>.sasl.enabled.mechanisms`, by upper-cased listener name.
    pub listener_mechanisms: BTreeMap<String, Vec<Mechanism>>,
    /// `connections.max.reauth.ms`: how long an authentication holds before the client must
    /// re-authenticate; 0 (the default) is forever.
    pub max_reauth_ms: u64,
    /// `connection.failed.authentication.delay.ms`: how long the answer to a failed
    /// authentication, and the close after it, are held back.
    pub failed_authentication_delay_ms: u64,
    /// `sasl.oauthbearer.*`: how OAUTHBEARER tokens are validated.
    pub oauthbearer: super::OAuthBearerSettings,
    /// `sasl.server.max.receive.size`: the largest frame read from a SASL connection that
    /// is not authenticated (or is in an exchange); a larger one closes the connection
    /// before its body is read.
    pub max_receive_bytes: usize,
}

impl Default for SaslSettings {
    fn default() -> Self {
        SaslSettings {
            enabled_mechanisms: vec![
                Mechanism::Scram(ScramMechanism::Sha512),
                Mechanism::Scram(ScramMechanism::Sha256),
            ],
            listener_mechanisms: BTreeMap::new(),
            max_reauth_ms: 0,
            failed_authentication_delay_ms: 100,
            oauthbearer: super::OAuthBearerSettings::default(),
            max_receive_bytes: 524_288,
        }
    }
}

impl SaslSettings {
    /// Sets `name` if it is a SASL setting; `Ok(false)` if it is not one.
    pub fn set(&mut self, name: &str, value: &str) -> Result<bool, InvalidValue> {
        let value = value.trim();
        let millis = || value.parse::<u64>().map_err(|_| InvalidValue);
        match name {
            "sasl.enabled.mechanisms" => self.enabled_mechanisms = parse_mechanisms(value)?,
            "connections.max.reauth.ms" => self.max_reauth_ms = millis()?,
            "connection.failed.authentication.delay.ms" => {
                self.failed_authentication_delay_ms = millis()?
            }
            "sasl.server.max.receive.size" => {
                self.max_receive_bytes = value
                    .parse::<usize>()
                    .ok()
                    .filter(|size| *size > 0)
                    .ok_or(InvalidValue)?
            }
            oauthbearer if oauthbearer.starts_with("sasl.oauthbearer.") => {
                return self.oauthbearer.set(name, value);
            }
            _ => {
                let Some(listener) = name
                    .strip_prefix("listener.name.")
                    .and_then(|rest| rest.strip_suffix(".sasl.enabled.mechanisms"))
                    .filter(|listener| !listener.is_empty())
                else {
                    return Ok(false);
                };
                self.listener_mechanisms
                    .insert(listener.to_ascii_uppercase(), parse_mechanisms(value)?);
            }
        }
        Ok(true)
    }

    /// The mechanisms the listener named `listener` offers, in the order configured.
    pub fn mechanisms_of(&self, listener: &str) -> &[Mechanism] {
        self.listener_mechanisms
            .get(listener)
            .unwrap_or(&self.enabled_mechanisms)
    }
}

/// A comma-separated list of mechanism names, as Kafka writes them (case matters, as in
/// Kafka). An empty list is valid here; a SASL listener left with none is refused at start.
fn parse_mechanisms(value: &str) -> Result<Vec<Mechanism>, InvalidValue> {
    let mut mechanisms = Vec::new();
    for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let mechanism = Mechanism::from_name(name).ok_or(InvalidValue)?;
        if !mechanisms.contains(&mechanism) {
            mechanisms.push(mechanism);
        }
    }
    Ok(mechanisms)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn mechanisms_are_set_for_every_listener_or_one() {
        let mut settings = SaslSettings::default();
        assert_eq!(
            settings.mechanisms_of("SASL_SSL"),
            [
                Mechanism::Scram(ScramMechanism::Sha512),
                Mechanism::Scram(ScramMechanism::Sha256)
            ]
        );
        assert!(settings
            .set("sasl.enabled.mechanisms", "PLAIN, SCRAM-SHA-256,PLAIN")
            .unwrap());
        assert!(settings
            .set(
                "listener.name.internal.sasl.enabled.mechanisms",
                "SCRAM-SHA-512"
            )
            .unwrap());
        assert_eq!(
            settings.mechanisms_of("SASL_SSL"),
            [Mechanism::Plain, Mechanism::Scram(ScramMechanism::Sha256)]
        );
        assert_eq!(
            settings.mechanisms_of("INTERNAL"),
            [Mechanism::Scram(ScramMechanism::Sha512)]
        );
        assert_eq!(
            settings.set("sasl.enabled.mechanisms", "GSSAPI"),
            Err(InvalidValue)
        );
        assert_eq!(
            settings.set("sasl.enabled.mechanisms", "plain"),
            Err(InvalidValue)
        );
        assert_eq!(
            settings.set("listener.name.x.sasl.kerberos", "y"),
            Ok(false)
        );
        assert_eq!(
            settings.set("listener.name..sasl.enabled.mechanisms", "PLAIN"),
            Ok(false)
        );
    }

    #[test]
    fn delays_and_lifetimes_take_milliseconds() {
        let mut settings = SaslSettings::default();
        assert_eq!(settings.failed_authentication_delay_ms, 100);
        assert_eq!(settings.max_reauth_ms, 0);
        settings.set("connections.max.reauth.ms", "60000").unwrap();
        settings
            .set("connection.failed.authentication.delay.ms", "0")
            .unwrap();
        assert_eq!(
            (
                settings.max_reauth_ms,
                settings.failed_authentication_delay_ms
            ),
            (60_000, 0)
        );
        assert_eq!(
            settings.set("connections.max.reauth.ms", "-1"),
            Err(InvalidValue)
        );
    }

    #[test]
    fn the_frame_bound_before_authentication_is_kafkas_by_default() {
        let mut settings = SaslSettings::default();
        assert_eq!(settings.max_receive_bytes, 524_288);
        settings
            .set("sasl.server.max.receive.size", "1024")
            .unwrap();
        assert_eq!(settings.max_receive_bytes, 1024);
        for refused in ["0", "-1", "big"] {
            assert_eq!(
                settings.set("sasl.server.max.receive.size", refused),
                Err(InvalidValue)
            );
        }
    }
}
