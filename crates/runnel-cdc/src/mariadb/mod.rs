//! Change data capture from MariaDB (and, untested, MySQL): a snapshot in a consistent-read
//! transaction tied to a binlog position, then the binlog in ROW format read as a replica,
//! as Debezium change events for `<topic.prefix>.<database>.<table>`.

pub mod config;
pub mod gtid;
mod offsets;
mod source;
pub mod values;

pub use config::MariaDbConfig;
pub use source::MariaDbSource;
