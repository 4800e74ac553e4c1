//! Standing search queries through the topology against a direct evaluation of every
//! current query on every event, with queries added, changed and removed midway and a task
//! restored from its store; the query language on chosen events; bad queries refused.
#![allow(clippy::unwrap_used)]

mod common;

use common::{keep_changes, restore, stores, StoredState};

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use proptest::prelude::*;
use runnel_streams::search::{Query, QueryIndex};
use runnel_streams::*;
use serde_json::{json, Value};

const FIELDS: [&str; 5] = ["title", "tags", "country", "user.country", "price"];
const WORDS: [&str; 5] = ["kafka", "rust", "stream", "log", "db"];

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::sample::select(vec!["FR", "DE", "kafka"]).prop_map(Value::from),
        (0i64..4).prop_map(Value::from),
        (0i64..4).prop_map(|n| Value::from(n as f64)),
        any::<bool>().prop_map(Value::from),
    ]
}

fn text() -> impl Strategy<Value = Value> {
    prop::collection::vec(
        (
            prop::sample::select(WORDS.to_vec()),
            any::<bool>(),
            0usize..3,
        ),
        0..4,
    )
    .prop_map(|words| {
        let mut text = String::new();
        for (word, upper, separator) in words {
            let word = if upper {
                word.to_uppercase()
            } else {
                word.to_owned()
            };
            text.push_str(&word);
            text.push_str([" ", "-", "! "][separator]);
        }
        Value::from(text)
    })
}

fn event() -> impl Strategy<Value = Value> {
    let field = |value: BoxedStrategy<Value>| {
        prop::option::of(prop_oneof![4 => value, 1 => Just(Value::Null)])
    };
    (
        field(text().boxed()),
        field(
            prop::collection::vec(prop_oneof![text(), scalar()], 0..3)
                .prop_map(Value::from)
                .boxed(),
        ),
        field(scalar().boxed()),
        field(scalar().boxed()),
        field((0i64..100).prop_map(Value::from).boxed()),
    )
        .prop_map(|(title, tags, country, user_country, price)| {
            let mut event = serde_json::Map::new();
            let mut put = |name: &str, value: Option<Value>| {
                if let Some(value) = value {
                    event.insert(name.to_owned(), value);
                }
            };
            put("title", title);
            put("tags", tags);
            put("country", country);
            put("user", user_country.map(|c| json!({ "country": c })));
            put("price", price);
            Value::Object(event)
        })
}

fn query() -> impl Strategy<Value = Query> {
    let field = || prop::sample::select(FIELDS.to_vec()).prop_map(str::to_owned);
    let bound = || prop::option::of((0i64..100).prop_map(|n| n as f64));
    let leaf = prop_oneof![
        (field(), prop::sample::select(WORDS.to_vec())).prop_map(|(field, term)| Query::Term {
            field,
            term: term.to_owned()
        }),
        (field(), scalar()).prop_map(|(field, value)| Query::Equals { field, value }),
        (field(), bound(), bound(), bound(), bound()).prop_map(|(field, gt, gte, lt, lte)| {
            Query::Range {
                field,
                gt,
                gte,
                lt,
                lte,
            }
        }),
        field().prop_map(|field| Query::Exists { field }),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Query::All),
            prop::collection::vec(inner.clone(), 0..3).prop_map(Query::Any),
            inner.prop_map(|q| Query::Not(Box::new(q))),
        ]
    })
}

#[derive(Debug, Clone)]
enum Step {
    Put(u8, Query),
    Remove(u8),
    Event(Value),
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        prop_oneof![
            3 => (0u8..12, query()).prop_map(|(id, q)| Step::Put(id, q)),
            1 => (0u8..12).prop_map(Step::Remove),
            4 => event().prop_map(Step::Event),
        ],
        0..60,
    )
}

type Hits = Rc<RefCell<Vec<(String, Value)>>>;

struct Task {
    topology: Topology,
    hits: Hits,
}

impl Task {
    fn new() -> Task {
        let mut builder = TopologyBuilder::with_application_id("search");
        let queries = builder.standing_queries("queries");
        let hits: Hits = Rc::default();
        let seen = hits.clone();
        builder
            .stream("events", StringSerde, JsonSerde::<Value>::new())
            .search(&queries)
            .for_each(move |r| seen.borrow_mut().push((r.key.clone(), r.value.1.clone())));
        Task {
            topology: builder.build(0, 1_000).unwrap(),
            hits,
        }
    }

    fn apply(&mut self, step: &Step) {
        let (topic, key, value) = match step {
            Step::Put(id, q) => (
                "queries",
                id.to_string(),
                Some(serde_json::to_vec(q).unwrap()),
            ),
            Step::Remove(id) => ("queries", id.to_string(), None),
            Step::Event(event) => (
                "events",
                "e".to_owned(),
                Some(serde_json::to_vec(event).unwrap()),
            ),
        };
        let incoming = Incoming {
            key: Some(key.as_bytes()),
            value: value.as_deref(),
            timestamp: 0,
            partition: 0,
        };
        self.topology.push_from_topic(topic, incoming, 0).unwrap();
    }
}

/// Every current query evaluated on every event, in query id order.
fn direct(steps: &[Step]) -> Vec<(String, Value)> {
    let mut queries: BTreeMap<String, Query> = BTreeMap::new();
    let mut hits = Vec::new();
    for step in steps {
        match step {
            Step::Put(id, q) => {
                queries.insert(id.to_string(), q.clone());
            }
            Step::Remove(id) => {
                queries.remove(&id.to_string());
            }
            Step::Event(event) => {
                for (id, query) in &queries {
                    if query.matches(event) {
                        hits.push((id.clone(), event.clone()));
                    }
                }
            }
        }
    }
    hits
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn every_event_matches_exactly_the_current_queries_that_hold(
        steps in steps(),
        cut in any::<prop::sample::Index>(),
    ) {
        let cut = cut.index(steps.len() + 1);
        let mut first = Task::new();
        for step in &steps[..cut] {
            first.apply(step);
        }
        // A fresh task restored from the first one's store goes on with the same queries.
        let mut stored = StoredState::new();
        keep_changes(&mut first.topology, &mut stored);
        prop_assert!(stores(&stored).iter().all(|&store| store == "queries-queries"));
        let mut second = Task::new();
        restore(&mut second.topology, &stored);
        for step in &steps[cut..] {
            second.apply(step);
        }
        let mut hits = first.hits.borrow().clone();
        hits.extend(second.hits.borrow().iter().cloned());
        prop_assert_eq!(hits, direct(&steps));
    }
}

fn holds(query: Value, event: Value) -> bool {
    let query = Query::from_json(query.to_string().as_bytes()).unwrap();
    let mut index = QueryIndex::new();
    index.insert("q", query.clone());
    let direct = query.matches(&event);
    assert_eq!(
        index.matching(&event) == ["q"],
        direct,
        "{query:?} on {event}"
    );
    direct
}

#[test]
fn the_query_language_on_chosen_events() {
    let event = json!({
        "title": "Streaming with Kafka-compatible logs!",
        "price": 42.5,
        "country": "FR",
        "tags": ["rust", "db", 7],
        "user": {"country": "DE", "vip": true},
        "coupon": null
    });
    let term = |field: &str, term: &str| json!({"term": {"field": field, "term": term}});
    assert!(holds(term("title", "kafka"), event.clone()));
    assert!(holds(term("title", "logs"), event.clone()));
    assert!(!holds(term("title", "log"), event.clone()));
    assert!(holds(term("tags", "rust"), event.clone()));
    assert!(holds(
        json!({"equals": {"field": "tags", "value": 7.0}}),
        event.clone()
    ));
    assert!(holds(
        json!({"equals": {"field": "user.country", "value": "DE"}}),
        event.clone()
    ));
    assert!(!holds(
        json!({"equals": {"field": "country", "value": "fr"}}),
        event.clone()
    ));
    assert!(holds(
        json!({"equals": {"field": "user.vip", "value": true}}),
        event.clone()
    ));
    assert!(holds(
        json!({"range": {"field": "price", "gt": 40, "lte": 42.5}}),
        event.clone()
    ));
    assert!(!holds(
        json!({"range": {"field": "price", "lt": 42.5}}),
        event.clone()
    ));
    assert!(holds(json!({"exists": {"field": "user"}}), event.clone()));
    assert!(!holds(
        json!({"exists": {"field": "coupon"}}),
        event.clone()
    ));
    assert!(holds(
        json!({"all": [term("title", "kafka"), {"not": {"equals": {"field": "country", "value": "DE"}}}]}),
        event.clone()
    ));
    assert!(holds(
        json!({"any": [term("title", "flink"), {"range": {"field": "price", "gte": 40}}]}),
        event.clone()
    ));
    assert!(holds(json!({"all": []}), event.clone()));
    assert!(!holds(json!({"any": []}), event));
}

#[test]
fn a_bad_query_is_refused_with_the_reason_and_changes_nothing() {
    let refused = |query: &str, reason: &str| {
        let error = Query::from_json(query.as_bytes()).unwrap_err().to_string();
        assert!(error.contains(reason), "{error:?} should say {reason:?}");
    };
    refused(
        r#"{"term": {"field": "title", "term": "two words"}}"#,
        "not one lower-case word",
    );
    refused(
        r#"{"term": {"field": "title", "term": "Kafka"}}"#,
        "not one lower-case word",
    );
    refused(
        r#"{"equals": {"field": "a", "value": [1]}}"#,
        "string, a number or a boolean",
    );
    refused(r#"{"near": {"field": "a"}}"#, "unknown variant");
    refused("not json", "expected");
    let deep = (0..40).fold(r#"{"exists": {"field": "a"}}"#.to_owned(), |q, _| {
        format!(r#"{{"not": {q}}}"#)
    });
    refused(&deep, "levels");

    let mut task = Task::new();
    task.apply(&Step::Put(
        1,
        Query::Exists {
            field: "title".into(),
        },
    ));
    let incoming = Incoming {
        key: Some(b"1"),
        value: Some(br#"{"term": {"field": "title", "term": "two words"}}"#),
        timestamp: 0,
        partition: 0,
    };
    let error = task
        .topology
        .push_from_topic("queries", incoming, 0)
        .unwrap_err();
    assert!(error.to_string().contains("query 1"), "{error}");
    task.apply(&Step::Event(json!({"title": "anything"})));
    assert_eq!(
        task.hits.borrow().len(),
        1,
        "query 1 is still the first one"
    );
}
