//! What the broker knows of one connection: who is at the other end, which listener it came
//! in on, and as whom it is authenticated. Every request handler gets it.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::listeners::ListenerInfo;
use crate::quotas::ANONYMOUS;

/// A Kafka principal of type `User`: `ANONYMOUS` before any authentication, the SASL user
/// name, or (mutual TLS) the client certificate's subject distinguished name. It prints as
/// Kafka prints principals, `User:NAME`; quotas use the bare name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Principal {
    name: Arc<str>,
}

impl Principal {
    /// The principal of a connection that has not authenticated.
    pub fn anonymous() -> Self {
        Principal::user(ANONYMOUS)
    }

    pub fn user(name: impl Into<Arc<str>>) -> Self {
        Principal { name: name.into() }
    }

    /// The name without the `User:` type, as quota entities name users.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn is_anonymous(&self) -> bool {
        &*self.name == ANONYMOUS
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "User:{}", self.name)
    }
}

/// One connection's context, shared by its requests. On a SASL listener no request but
/// ApiVersions and the SASL exchange is served before the client authenticates (see
/// `sasl`); the session then takes the authenticated principal.
#[derive(Debug, Clone)]
pub struct Session {
    pub peer: SocketAddr,
    pub listener: Arc<ListenerInfo>,
    pub principal: Principal,
}

impl Session {
    /// A connection just accepted (and, on a TLS listener, whose handshake completed):
    /// anonymous, or `principal` when its client certificate identified it.
    pub fn new(peer: SocketAddr, listener: Arc<ListenerInfo>, principal: Principal) -> Self {
        Session {
            peer,
            listener,
            principal,
        }
    }

    /// The same connection as `principal`, once it authenticated with SASL.
    pub fn authenticated_as(&self, principal: Principal) -> Self {
        Session {
            principal,
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principals_print_as_kafka_prints_them() {
        assert_eq!(Principal::anonymous().to_string(), "User:ANONYMOUS");
        assert!(Principal::anonymous().is_anonymous());
        let alice = Principal::user("CN=alice,O=Runnel");
        assert_eq!(alice.to_string(), "User:CN=alice,O=Runnel");
        assert_eq!(alice.name(), "CN=alice,O=Runnel");
        assert!(!alice.is_anonymous());
    }
}
