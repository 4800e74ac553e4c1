//! Event sourcing on a Runnel log, through any Kafka client library's protocol (librdkafka
//! here), with no knowledge of the broker's internals.
//!
//! * [`Aggregate`]: decides on commands (events or a refusal) and evolves by events.
//! * Events are stored with a type, a schema version ([`Upcasters`] bring old versions to the
//!   current one) and [`Metadata`] (event, correlation and causation ids, time). The events
//!   of one command form one record (a commit) keyed by the aggregate id, so they are
//!   appended together or not at all.
//! * [`CommandHandler`] loads an aggregate (its latest snapshot, then its commits after it),
//!   decides, and appends with the offset of the aggregate's latest commit as the
//!   expectation (`runnel.eo`, a Runnel conditional append): a concurrent
//!   writer's commit makes the append fail, and the handler reloads and decides again,
//!   counting the conflict, up to a limit.
//! * [`EventIndex`] is the local copy of the events by aggregate, built from the topic, so
//!   loading one aggregate does not scan a partition; snapshots (every N events, in a
//!   compacted topic) shorten the replay, and a damaged or incompatible one is ignored.

mod aggregate;
mod clients;
mod error;
mod event;
mod follow;
mod handler;
mod projection;
mod shredding;
mod store;
mod view;

pub use aggregate::Aggregate;
pub use error::{CommandError, EventStoreError};
pub use event::{Envelope, Metadata, StoredEvent, Upcasters};
pub use handler::{Cause, CommandHandler, Executed, HandlerConfig, Loaded, EXPECTED_OFFSET_HEADER};
pub use projection::{Projection, ProjectionConfig, ReadModel};
pub use shredding::{system_randomness, KeyVault, Randomness, Revealed, Sealed};
pub use store::{EventIndex, Topics, CACHE_BYTES};
pub use view::ReadModelView;
