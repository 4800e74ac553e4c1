//! The bank's read models: each account's balance (with its holder, still sealed), and its
//! statement, one line per event.

use std::collections::VecDeque;

use runnel_eventsourcing::{Envelope, ReadModel, Sealed};
use serde::{Deserialize, Serialize};

use crate::account::{Account, AccountEvent};

/// Statement lines kept per account; older ones are only counted.
pub const STATEMENT_LINES: usize = 1_000;

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    pub cents: i64,
    /// Kept sealed: the read model holds no plaintext, so forgetting the key forgets it here
    /// too.
    pub holder: Option<Sealed>,
}

impl ReadModel for Balance {
    type Aggregate = Account;

    fn apply(&mut self, _: &str, envelope: &Envelope<AccountEvent>) {
        if let AccountEvent::Opened { holder } = &envelope.event {
            self.holder = Some(holder.clone());
        }
        self.cents += envelope.event.cents_delta();
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    pub event_id: String,
    pub recorded_at_ms: i64,
    pub description: String,
    /// Signed: what the line did to the balance.
    pub cents: i64,
    /// The balance after the line.
    pub balance: i64,
    pub correlation_id: String,
    /// What caused it: for a reversal, the deposit it reverses.
    pub causation_id: String,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    pub balance: i64,
    /// The latest lines, oldest first.
    pub lines: VecDeque<Line>,
    /// Lines no longer kept.
    pub earlier_lines: u64,
}

fn describe(event: &AccountEvent) -> String {
    match event {
        AccountEvent::Opened { .. } => "account opened".into(),
        AccountEvent::Deposited { deposit_id, .. } => format!("deposit {deposit_id}"),
        AccountEvent::Withdrawn { .. } => "withdrawal".into(),
        AccountEvent::DepositReversed { deposit_id, .. } => {
            format!("reversal of deposit {deposit_id}")
        }
        AccountEvent::TransferredOut {
            transfer_id, to, ..
        } => {
            format!("transfer {transfer_id} to {to}")
        }
        AccountEvent::TransferredIn {
            transfer_id, from, ..
        } => format!("transfer {transfer_id} from {from}"),
        AccountEvent::TransferRefunded {
            transfer_id,
            reason,
            ..
        } => format!("refund of transfer {transfer_id}: {reason}"),
    }
}

impl ReadModel for Statement {
    type Aggregate = Account;

    fn apply(&mut self, _: &str, envelope: &Envelope<AccountEvent>) {
        let cents = envelope.event.cents_delta();
        self.balance += cents;
        if self.lines.len() == STATEMENT_LINES {
            self.lines.pop_front();
            self.earlier_lines += 1;
        }
        let metadata = &envelope.metadata;
        self.lines.push_back(Line {
            event_id: metadata.event_id.clone(),
            recorded_at_ms: metadata.recorded_at_ms,
            description: describe(&envelope.event),
            cents,
            balance: self.balance,
            correlation_id: metadata.correlation_id.clone(),
            causation_id: metadata.causation_id.clone(),
        });
    }
}
