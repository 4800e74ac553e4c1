//! Complex event processing: patterns matched per key over records in event-time order, as
//! Flink CEP does. A pattern is a sequence of stages, each taking events its condition
//! accepts (once, optionally, or a number of times), joined by strict, relaxed or any-match
//! contiguity, with negations between them, an optional time limit (`within`) and a
//! strategy for what a match does to the partial matches in progress.
//!
//! `nfa` is the matching of one key's ordered events; `matcher` orders records by event
//! time and the watermark, per key, and times partial matches out; `codec` is the bytes of a
//! key's state in a store.

mod codec;
mod matcher;
mod nfa;
mod pattern;

pub use matcher::{Match, MatchedEvent, Outcome, PatternMatcher};
pub use pattern::{
    AfterMatchSkip, Condition, Contiguity, Greed, Matched, Pattern, PatternBuilder, MAX_STAGES,
};
