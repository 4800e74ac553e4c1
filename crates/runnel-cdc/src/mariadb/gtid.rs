//! MariaDB's own binlog events that the binlog crate does not know: the GTID event that
//! opens each transaction (`domain-server-sequence`, unlike MySQL's `uuid:sequence`).

/// The binlog event type of MariaDB's GTID event.
pub const GTID_EVENT: u8 = 162;

/// The GTID flag of a transaction that is a single statement outside any transaction (DDL).
const FL_STANDALONE: u8 = 1;

/// A GTID event's body too short for its fixed fields.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("MariaDB GTID event of {0} bytes is shorter than its 13 fixed bytes")]
pub struct GtidError(pub usize);

/// A MariaDB global transaction id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gtid {
    pub domain: u32,
    pub server: u32,
    pub sequence: u64,
    /// A standalone statement (DDL) rather than a transaction of row events.
    pub standalone: bool,
}

impl std::fmt::Display for Gtid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}-{}", self.domain, self.server, self.sequence)
    }
}

/// Decodes a GTID event's body (after the common header, without the checksum): the sequence
/// number (8 bytes), the domain (4) and the flags (1), little-endian, then fields this source
/// does not need. The server id comes from the event header.
pub fn decode_gtid(server: u32, body: &[u8]) -> Result<Gtid, GtidError> {
    let fixed = body.get(..13).ok_or(GtidError(body.len()))?;
    let mut sequence = [0u8; 8];
    sequence.copy_from_slice(&fixed[..8]);
    let mut domain = [0u8; 4];
    domain.copy_from_slice(&fixed[8..12]);
    Ok(Gtid {
        domain: u32::from_le_bytes(domain),
        server,
        sequence: u64::from_le_bytes(sequence),
        standalone: fixed[12] & FL_STANDALONE != 0,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_gtid_event_gives_domain_server_sequence() {
        let mut body = 42u64.to_le_bytes().to_vec();
        body.extend(3u32.to_le_bytes());
        body.push(0);
        body.extend([9; 8]); // commit id and other optional fields
        let gtid = decode_gtid(7, &body).unwrap();
        assert_eq!(gtid.to_string(), "3-7-42");
        assert!(!gtid.standalone);
        body[12] = FL_STANDALONE;
        assert!(decode_gtid(7, &body).unwrap().standalone);
    }

    #[test]
    fn a_short_gtid_event_is_refused() {
        assert_eq!(decode_gtid(1, &[0; 12]), Err(GtidError(12)));
        assert_eq!(decode_gtid(1, &[]), Err(GtidError(0)));
    }
}
