//! The toolkit against a real broker over real sockets: bank accounts whose balance must
//! never go negative, written by many concurrent handlers; events of an old schema upcast
//! on load; snapshots used, and ignored when damaged or of another version.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use runnel_broker::{Broker, BrokerConfig};
use runnel_eventsourcing::{
    Aggregate, Cause, CommandError, CommandHandler, EventIndex, HandlerConfig, Topics, Upcasters,
    EXPECTED_OFFSET_HEADER,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(20);

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Account {
    open: bool,
    cents: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type")]
enum AccountEvent {
    Opened,
    Deposited { cents: i64 },
    Withdrawn { cents: i64 },
}

#[derive(Debug)]
enum AccountCommand {
    Open,
    Deposit(i64),
    Withdraw(i64),
}

#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    NotOpen,
    AlreadyOpen,
    Insufficient { balance: i64 },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl Aggregate for Account {
    type Command = AccountCommand;
    type Event = AccountEvent;
    type Refusal = Refusal;
    /// Version 1 stored whole units (`amount`); version 2 stores cents.
    const EVENT_VERSION: u32 = 2;

    fn event_type(event: &AccountEvent) -> &'static str {
        match event {
            AccountEvent::Opened => "Opened",
            AccountEvent::Deposited { .. } => "Deposited",
            AccountEvent::Withdrawn { .. } => "Withdrawn",
        }
    }

    fn handle(&self, command: &AccountCommand) -> Result<Vec<AccountEvent>, Refusal> {
        match (command, self.open) {
            (AccountCommand::Open, false) => Ok(vec![AccountEvent::Opened]),
            (AccountCommand::Open, true) => Err(Refusal::AlreadyOpen),
            (_, false) => Err(Refusal::NotOpen),
            (AccountCommand::Deposit(cents), true) => {
                Ok(vec![AccountEvent::Deposited { cents: *cents }])
            }
            (AccountCommand::Withdraw(cents), true) if *cents > self.cents => {
                Err(Refusal::Insufficient {
                    balance: self.cents,
                })
            }
            (AccountCommand::Withdraw(cents), true) => {
                Ok(vec![AccountEvent::Withdrawn { cents: *cents }])
            }
        }
    }

    fn apply(&mut self, event: &AccountEvent) {
        match event {
            AccountEvent::Opened => self.open = true,
            AccountEvent::Deposited { cents } => self.cents += cents,
            AccountEvent::Withdrawn { cents } => self.cents -= cents,
        }
    }
}

fn upcasters() -> Upcasters {
    Upcasters::new().register("Deposited", 1, |mut data| {
        data["cents"] = json!(data["amount"].as_i64().unwrap_or(0) * 100);
        data
    })
}

struct Cluster {
    _dir: tempfile::TempDir,
    broker: Broker,
    topics: Topics,
}

impl Cluster {
    async fn start() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let broker = Broker::start(BrokerConfig::new(dir.path().join("data"), "127.0.0.1:0"))
            .await
            .unwrap();
        let topics = Topics {
            events: "accounts".into(),
            snapshots: "accounts-snapshots".into(),
        };
        let cluster = Cluster {
            _dir: dir,
            broker,
            topics,
        };
        let admin: AdminClient<DefaultClientContext> = cluster.client().create().unwrap();
        let created = admin
            .create_topics(
                &[
                    NewTopic::new(&cluster.topics.events, 3, TopicReplication::Fixed(1))
                        .set("runnel.conditional.append.enable", "true"),
                    NewTopic::new(&cluster.topics.snapshots, 1, TopicReplication::Fixed(1))
                        .set("cleanup.policy", "compact"),
                ],
                &AdminOptions::new(),
            )
            .await
            .unwrap();
        assert!(created.iter().all(Result::is_ok), "{created:?}");
        cluster
    }

    fn bootstrap(&self) -> String {
        self.broker.local_addr().to_string()
    }

    fn client(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", self.bootstrap());
        config
    }

    /// A handler with an event index of its own, as a separate process would have.
    fn handler(
        &self,
        config: HandlerConfig,
    ) -> (tempfile::TempDir, Arc<EventIndex>, CommandHandler<Account>) {
        let dir = tempfile::tempdir().unwrap();
        let index = Arc::new(
            EventIndex::start(
                &self.bootstrap(),
                self.topics.clone(),
                &dir.path().join("index.redb"),
            )
            .unwrap(),
        );
        let handler =
            CommandHandler::new(&self.bootstrap(), Arc::clone(&index), upcasters(), config)
                .unwrap();
        (dir, index, handler)
    }
}

fn cause(n: usize) -> Cause {
    Cause {
        correlation_id: format!("request-{n}"),
        causation_id: format!("command-{n}"),
    }
}

fn fixed_time() -> HandlerConfig {
    HandlerConfig {
        clock: Arc::new(|| 1_700_000_000_000),
        ..HandlerConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_lose_no_update_and_never_overdraw() {
    const ACCOUNTS: usize = 2;
    const WRITERS_PER_HANDLER: usize = 6;
    const COMMANDS: usize = 30;
    let cluster = Cluster::start().await;
    let config = HandlerConfig {
        snapshot_every: 7,
        max_attempts: 200,
        ..fixed_time()
    };
    let mut dirs = Vec::new();
    let mut handlers = Vec::new();
    for _ in 0..2 {
        let (dir, _, handler) = cluster.handler(config.clone());
        dirs.push(dir);
        handlers.push(Arc::new(handler));
    }
    for a in 0..ACCOUNTS {
        handlers[0]
            .execute(&format!("acct-{a}"), &AccountCommand::Open, &cause(a))
            .await
            .unwrap();
    }
    // Every writer deposits 10 and tries to withdraw 25 in turn on every account: many
    // withdrawals must be refused, and each writer sees the others' appends as conflicts.
    let mut tasks = Vec::new();
    for (h, handler) in handlers.iter().enumerate() {
        for w in 0..WRITERS_PER_HANDLER {
            let handler = Arc::clone(handler);
            tasks.push(tokio::spawn(async move {
                let mut applied = vec![0i64; ACCOUNTS];
                for n in 0..COMMANDS {
                    let account = (n + w + h) % ACCOUNTS;
                    let command = if n % 2 == 0 {
                        AccountCommand::Deposit(10)
                    } else {
                        AccountCommand::Withdraw(25)
                    };
                    match handler
                        .execute(&format!("acct-{account}"), &command, &cause(n))
                        .await
                    {
                        Ok(_) => {
                            applied[account] += match command {
                                AccountCommand::Deposit(c) => c,
                                AccountCommand::Withdraw(c) => -c,
                                AccountCommand::Open => 0,
                            }
                        }
                        Err(CommandError::Refused(Refusal::Insufficient { balance })) => {
                            assert!(balance < 25)
                        }
                        Err(other) => panic!("{other}"),
                    }
                }
                applied
            }));
        }
    }
    let mut expected = vec![0i64; ACCOUNTS];
    for task in tasks {
        for (a, delta) in task.await.unwrap().into_iter().enumerate() {
            expected[a] += delta;
        }
    }
    let conflicts: u64 = handlers.iter().map(|h| h.conflicts()).sum();
    assert!(conflicts > 0, "writers raced");

    // A fresh index, built from the topic alone, agrees with what the writers were told,
    // and the balance never went below zero along any account's history.
    let (_dir, index, fresh) = cluster.handler(fixed_time());
    fresh.catch_up().await.unwrap();
    for (a, &cents) in expected.iter().enumerate() {
        let id = format!("acct-{a}");
        assert_eq!(
            fresh.load(&id).unwrap().state.cents,
            cents,
            "{id}: no lost update"
        );
        let mut balance = 0;
        for (offset, commit) in index.commits(&id, -1).unwrap() {
            let commit: serde_json::Value = serde_json::from_slice(&commit).unwrap();
            for event in commit["events"].as_array().unwrap() {
                match event["type"].as_str().unwrap() {
                    "Deposited" => balance += event["data"]["cents"].as_i64().unwrap(),
                    "Withdrawn" => balance -= event["data"]["cents"].as_i64().unwrap(),
                    _ => {}
                }
                assert!(balance >= 0, "{id} overdrawn at offset {offset}");
            }
        }
        assert_eq!(balance, cents);
    }
    eprintln!("{conflicts} conflicts retried; balances {expected:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_of_an_old_schema_are_upcast_on_load() {
    let cluster = Cluster::start().await;
    // Written by an older version of the application: whole units, schema version 1.
    let producer: FutureProducer = cluster.client().create().unwrap();
    let old = json!({"events": [
        {"type": "Opened", "version": 1, "data": {"type": "Opened"},
         "metadata": {"event_id": "e1", "correlation_id": "c", "causation_id": "c", "recorded_at_ms": 1}},
        {"type": "Deposited", "version": 1, "data": {"type": "Deposited", "amount": 3},
         "metadata": {"event_id": "e2", "correlation_id": "c", "causation_id": "c", "recorded_at_ms": 1}}
    ]});
    let payload = serde_json::to_vec(&old).unwrap();
    producer
        .send(
            FutureRecord::to("accounts")
                .key("old")
                .payload(&payload)
                .headers(OwnedHeaders::new().insert(Header {
                    key: EXPECTED_OFFSET_HEADER,
                    value: Some(&(-1i64).to_be_bytes()),
                })),
            WAIT,
        )
        .await
        .unwrap();
    let (_dir, _, handler) = cluster.handler(fixed_time());
    handler.catch_up().await.unwrap();
    assert_eq!(
        handler.load("old").unwrap().state,
        Account {
            open: true,
            cents: 300
        }
    );
    handler
        .execute("old", &AccountCommand::Deposit(5), &cause(1))
        .await
        .unwrap();
    assert_eq!(handler.load("old").unwrap().state.cents, 305);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_shorten_loads_and_a_bad_one_falls_back_to_replay() {
    let cluster = Cluster::start().await;
    let (_dir, index, handler) = cluster.handler(HandlerConfig {
        snapshot_every: 4,
        ..fixed_time()
    });
    handler
        .execute("s", &AccountCommand::Open, &cause(0))
        .await
        .unwrap();
    for n in 1..=5 {
        handler
            .execute("s", &AccountCommand::Deposit(n), &cause(n as usize))
            .await
            .unwrap();
    }
    let expected = Account {
        open: true,
        cents: 15,
    };
    // The snapshot written after the fourth event is read once the index has it.
    let snapshot_producer: FutureProducer = cluster.client().create().unwrap();
    let wait_for_snapshot = |offset: i64| {
        let index = Arc::clone(&index);
        async move {
            index
                .wait_past("accounts-snapshots", 0, offset, WAIT)
                .await
                .unwrap()
        }
    };
    wait_for_snapshot(0).await;
    let loaded = handler.load("s").unwrap();
    assert!(loaded.from_snapshot);
    // A second snapshot may have been taken if the index had not read the first one yet.
    assert!(
        (1..=2).contains(&loaded.commits_replayed),
        "only the commits after the snapshot: {}",
        loaded.commits_replayed
    );
    assert_eq!(loaded.state, expected);

    for bad in [
        b"{not json".to_vec(),
        serde_json::to_vec(&json!({"version": 99, "offset": 5, "events_since": 0, "state": {"open": true, "cents": 1}})).unwrap(),
        serde_json::to_vec(&json!({"version": 1, "offset": 5, "events_since": 0, "state": {"balance": "x"}})).unwrap(),
    ] {
        let delivered = snapshot_producer
            .send(FutureRecord::to("accounts-snapshots").key("s").payload(&bad), WAIT)
            .await
            .unwrap();
        wait_for_snapshot(delivered.offset).await;
        let loaded = handler.load("s").unwrap();
        assert!(!loaded.from_snapshot);
        assert_eq!(loaded.commits_replayed, 6, "every commit replayed");
        assert_eq!(loaded.state, expected);
    }
}
