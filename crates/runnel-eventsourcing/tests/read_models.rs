//! The bank example's read models, projected by streams jobs from the events a random
//! workload appended: they agree with the aggregates, and a projection rebuilt from the
//! first event (its next generation) equals the live one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

// The example's domain, of which the test uses all but the holder's plaintext form.
#[allow(dead_code)]
#[path = "../examples/bank/account.rs"]
mod account;
mod common;
#[path = "../examples/bank/read_models.rs"]
mod read_models;

use std::collections::BTreeMap;
use std::sync::Arc;

use account::{Account, AccountCommand};
use common::{TestBroker, WAIT};
use read_models::{Balance, Statement};
use runnel_eventsourcing::{
    Cause, CommandError, CommandHandler, EventIndex, HandlerConfig, Projection, ProjectionConfig,
    ReadModel, ReadModelView, Sealed, Topics, Upcasters,
};

const ACCOUNTS: usize = 5;
const COMMANDS: usize = 150;

/// A small deterministic generator (xorshift64*): the workload is the same on every run.
struct Random(u64);

impl Random {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rebuilt_projection_equals_the_live_one_after_a_random_workload() {
    let broker = TestBroker::start().await;
    let bootstrap = broker.bootstrap();
    let topics = Topics {
        events: "accounts".into(),
        snapshots: "accounts-snapshots".into(),
    };
    broker
        .create_topic(
            &topics.events,
            2,
            &[("runnel.conditional.append.enable", "true")],
        )
        .await;
    broker
        .create_topic(&topics.snapshots, 1, &[("cleanup.policy", "compact")])
        .await;
    let state = tempfile::tempdir().unwrap();
    let index = Arc::new(
        EventIndex::start(&bootstrap, topics.clone(), &state.path().join("index.redb")).unwrap(),
    );
    let ids = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let handler = CommandHandler::<Account>::new(
        &bootstrap,
        Arc::clone(&index),
        Upcasters::new(),
        HandlerConfig {
            clock: Arc::new(|| 1_700_000_000_000),
            new_id: Arc::new(move || {
                format!(
                    "event-{}",
                    ids.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                )
            }),
            ..HandlerConfig::default()
        },
    )
    .unwrap();
    let config = |name: &str| ProjectionConfig {
        name: name.into(),
        bootstrap: bootstrap.clone(),
        events_topic: topics.events.clone(),
        state_dir: state.path().join("projections"),
        generation: 1,
    };
    let upcasters = Arc::new(Upcasters::new());
    let balances = Projection::<Balance>::start(config("balances"), Arc::clone(&upcasters))
        .await
        .unwrap();
    let statements = Projection::<Statement>::start(config("statements"), upcasters)
        .await
        .unwrap();

    // The workload runs while the live projections follow it.
    let mut random = Random(0x5eed_1234_abcd_0001);
    let cause = |n: usize| Cause {
        correlation_id: format!("request-{n}"),
        causation_id: format!("request-{n}"),
    };
    for a in 0..ACCOUNTS {
        let holder = Sealed {
            subject: format!("acct-{a}"),
            nonce: String::new(),
            ciphertext: String::new(),
        };
        handler
            .execute(
                &format!("acct-{a}"),
                &AccountCommand::Open { holder },
                &cause(a),
            )
            .await
            .unwrap();
    }
    let mut deposits = Vec::new();
    for n in 0..COMMANDS {
        let account = format!("acct-{}", random.below(ACCOUNTS as u64));
        let cents = 1 + random.below(500) as i64;
        let command = match random.below(5) {
            0 | 1 => {
                deposits.push((account.clone(), format!("d{n}")));
                AccountCommand::Deposit {
                    deposit_id: format!("d{n}"),
                    cents,
                }
            }
            2 => AccountCommand::Withdraw { cents },
            3 => {
                // To one of the accounts, or to one never opened, which refuses it.
                let to = format!("acct-{}", random.below(ACCOUNTS as u64 + 1));
                transfer(&handler, &account, &to, cents, &format!("t{n}")).await;
                continue;
            }
            _ => match deposits.get(random.below(deposits.len().max(1) as u64) as usize) {
                Some((owner, deposit_id)) if *owner == account => AccountCommand::ReverseDeposit {
                    deposit_id: deposit_id.clone(),
                },
                _ => AccountCommand::Withdraw { cents },
            },
        };
        refused_or_done(handler.execute(&account, &command, &cause(n)).await);
    }
    // Each command appended at most one event: an account's commits are its events.
    let expected: Vec<Expected> = (0..ACCOUNTS)
        .map(|a| {
            let id = format!("acct-{a}");
            Expected {
                cents: handler.load(&id).unwrap().state.cents,
                events: index.commits(&id, -1).unwrap().len(),
                id,
            }
        })
        .collect();

    let rebuilt_balances = balances.rebuild().await.unwrap();
    let rebuilt_statements = statements.rebuild().await.unwrap();
    assert_eq!(rebuilt_balances.output_topic(), "balances-v2");
    // A balance read before its account's last events were projected is only equal to
    // the final one if those events cancel out, and then it is the same model.
    let balance_done = |b: &Balance, e: &Expected| b.cents == e.cents;
    assert_rebuilt_equals_live(&balances, &rebuilt_balances, &expected, balance_done).await;
    let statement_done =
        |s: &Statement, e: &Expected| s.balance == e.cents && s.lines.len() == e.events;
    let statements_read =
        assert_rebuilt_equals_live(&statements, &rebuilt_statements, &expected, statement_done)
            .await;
    for statement in statements_read.values() {
        let mut balance = 0;
        for line in &statement.lines {
            balance += line.cents;
            assert_eq!(line.balance, balance);
            assert!(balance >= 0);
        }
    }
    for projection in [balances, rebuilt_balances] {
        projection.stop().unwrap();
    }
    for projection in [statements, rebuilt_statements] {
        projection.stop().unwrap();
    }
}

/// What the aggregates say once the workload is done.
struct Expected {
    id: String,
    cents: i64,
    events: usize,
}

/// Waits until the live projection and the rebuilt one have both projected every account's
/// events (`done`), then checks they hold the same models; returns them.
async fn assert_rebuilt_equals_live<M>(
    live: &Projection<M>,
    rebuilt: &Projection<M>,
    expected: &[Expected],
    done: impl Fn(&M, &Expected) -> bool,
) -> BTreeMap<String, M>
where
    M: ReadModel + PartialEq + std::fmt::Debug + Send + Sync,
{
    let bootstrap = &live.config().bootstrap;
    let live = ReadModelView::<M>::start(bootstrap, &live.output_topic()).unwrap();
    let rebuilt = ReadModelView::<M>::start(bootstrap, &rebuilt.output_topic()).unwrap();
    for view in [&live, &rebuilt] {
        view.wait_until(WAIT, |models| {
            expected
                .iter()
                .all(|e| models.get(&e.id).is_some_and(|model| done(model, e)))
        })
        .await
        .unwrap();
    }
    let models = live.all();
    assert_eq!(models, rebuilt.all(), "rebuilt from zero, as live");
    models
}

fn refused_or_done<T>(result: Result<T, CommandError<account::Refusal>>) -> bool {
    match result {
        Ok(_) => true,
        Err(CommandError::Refused(_)) => false,
        Err(CommandError::Store(error)) => panic!("{error}"),
    }
}

/// A transfer as the example carries it out: out of `from`, into `to`, refunded if `to`
/// refuses it.
async fn transfer(handler: &CommandHandler<Account>, from: &str, to: &str, cents: i64, id: &str) {
    let cause = Cause {
        correlation_id: id.into(),
        causation_id: id.into(),
    };
    let out = AccountCommand::TransferOut {
        transfer_id: id.into(),
        to: to.into(),
        cents,
    };
    if from == to || !refused_or_done(handler.execute(from, &out, &cause).await) {
        return;
    }
    let into = AccountCommand::ReceiveTransfer {
        transfer_id: id.into(),
        from: from.into(),
        cents,
    };
    if !refused_or_done(handler.execute(to, &into, &cause).await) {
        let refund = AccountCommand::RefundTransfer {
            transfer_id: id.into(),
            reason: "refused".into(),
        };
        assert!(refused_or_done(
            handler.execute(from, &refund, &cause).await
        ));
    }
}
