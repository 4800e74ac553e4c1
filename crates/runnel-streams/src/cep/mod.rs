//! Complex event processing: patterns matched per key over records in event-time order, as
//! Flink CEP does. A pattern is a sequence of stages, each taking events its condition
//! accepts (once, optionally, or a number of times), joined by strict, relaxed or any-match
//! contiguity, with negations between them, an optional time limit (`within`) and a
//! strategy for what a match does to the partial matches in progress.
//!
//! `nfa` is the matching of one key's ordered events; `matcher` orders records by event
//! time and the watermark, per key, and times partial matches out; `codec` is the bytes of a
//! key's state in a store.
//!
//! ```
//! use std::cell::RefCell;
//! use std::rc::Rc;
//!
//! use runnel_streams::cep::{AfterMatchSkip, Pattern};
//! use runnel_streams::*;
//!
//! // Logins as (success, country): three failures in a row, then a success from a country
//! // none of them came from, within 10 minutes.
//! let pattern = Pattern::begin("failed", |login: &(bool, String), _| !login.0)
//!     .times(3..=3)
//!     .consecutive()
//!     .followed_by("success", |login: &(bool, String), so_far| {
//!         login.0 && so_far.events("failed").all(|failed| failed.1 != login.1)
//!     })
//!     .within(10 * 60_000)
//!     .skip(AfterMatchSkip::PastLastEvent)
//!     .build()?;
//! let mut builder = TopologyBuilder::new();
//! let (input, logins) = builder.source::<String, (bool, String)>();
//! let alerts = Rc::new(RefCell::new(Vec::new()));
//! let seen = alerts.clone();
//! logins
//!     .pattern(pattern)
//!     .matches()
//!     .for_each(move |m| seen.borrow_mut().push((m.key.clone(), m.timestamp)));
//! let mut topology = builder.build(0, 10_000)?;
//! let logins = [(0, false, "FR"), (1, false, "FR"), (2, false, "DE"), (3, true, "BR")];
//! for (minute, success, country) in logins {
//!     let login = (success, country.to_owned());
//!     topology.push(&input, Record::new("ann".into(), login, minute * 60_000, 0), 0)?;
//! }
//! topology.finish()?;
//! assert_eq!(*alerts.borrow(), vec![("ann".to_owned(), 3 * 60_000)]);
//! # Ok::<(), StreamsError>(())
//! ```

mod codec;
mod matcher;
mod nfa;
mod pattern;

pub use matcher::{Match, MatchedEvent, Outcome, PatternMatcher};
pub use pattern::{
    AfterMatchSkip, Condition, Contiguity, Greed, Matched, Pattern, PatternBuilder, MAX_STAGES,
};
