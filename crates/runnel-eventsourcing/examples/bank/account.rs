//! The bank account aggregate: its commands, events and refusals.

use std::collections::VecDeque;

use runnel_eventsourcing::{Aggregate, Sealed};
use serde::{Deserialize, Serialize};

/// How many of its latest deposits (and outgoing transfers) an account remembers, to
/// reverse (refund) them: the state stays bounded however long the account lives.
pub const REMEMBERED: usize = 100;

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub open: bool,
    pub cents: i64,
    /// (deposit id, cents) of the latest deposits not reversed, oldest first.
    deposits: VecDeque<(String, i64)>,
    /// (transfer id, cents) of the latest outgoing transfers not refunded, oldest first.
    transfers_out: VecDeque<(String, i64)>,
}

/// The holder's personal data, stored only sealed with the account's own key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub name: String,
    pub address: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum AccountEvent {
    Opened {
        holder: Sealed,
    },
    Deposited {
        deposit_id: String,
        cents: i64,
    },
    Withdrawn {
        cents: i64,
    },
    /// Compensates a deposit entered by mistake; both stay in the history.
    DepositReversed {
        deposit_id: String,
        cents: i64,
    },
    TransferredOut {
        transfer_id: String,
        to: String,
        cents: i64,
    },
    TransferredIn {
        transfer_id: String,
        from: String,
        cents: i64,
    },
    /// Compensates an outgoing transfer the target refused.
    TransferRefunded {
        transfer_id: String,
        cents: i64,
        reason: String,
    },
}

impl AccountEvent {
    /// What the event does to the balance.
    pub fn cents_delta(&self) -> i64 {
        match self {
            AccountEvent::Opened { .. } => 0,
            AccountEvent::Deposited { cents, .. }
            | AccountEvent::TransferredIn { cents, .. }
            | AccountEvent::TransferRefunded { cents, .. } => *cents,
            AccountEvent::Withdrawn { cents }
            | AccountEvent::DepositReversed { cents, .. }
            | AccountEvent::TransferredOut { cents, .. } => -cents,
        }
    }
}

#[derive(Debug, Clone)]
pub enum AccountCommand {
    Open {
        holder: Sealed,
    },
    /// Idempotent by `deposit_id` among the remembered deposits.
    Deposit {
        deposit_id: String,
        cents: i64,
    },
    Withdraw {
        cents: i64,
    },
    ReverseDeposit {
        deposit_id: String,
    },
    TransferOut {
        transfer_id: String,
        to: String,
        cents: i64,
    },
    ReceiveTransfer {
        transfer_id: String,
        from: String,
        cents: i64,
    },
    RefundTransfer {
        transfer_id: String,
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NotOpen,
    AlreadyOpen,
    NotPositive,
    Insufficient { balance: i64 },
    UnknownDeposit(String),
    UnknownTransfer(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NotOpen => write!(f, "the account is not open"),
            Refusal::AlreadyOpen => write!(f, "the account is already open"),
            Refusal::NotPositive => write!(f, "the amount must be positive"),
            Refusal::Insufficient { balance } => {
                write!(f, "insufficient funds: the balance is {balance} cents")
            }
            Refusal::UnknownDeposit(id) => {
                write!(f, "no deposit {id} to reverse among the account's latest")
            }
            Refusal::UnknownTransfer(id) => {
                write!(
                    f,
                    "no outgoing transfer {id} to refund among the account's latest"
                )
            }
        }
    }
}

fn remember(list: &mut VecDeque<(String, i64)>, id: &str, cents: i64) {
    if list.len() == REMEMBERED {
        list.pop_front();
    }
    list.push_back((id.to_owned(), cents));
}

fn find(list: &VecDeque<(String, i64)>, id: &str) -> Option<i64> {
    list.iter().find(|(known, _)| known == id).map(|(_, c)| *c)
}

impl Aggregate for Account {
    type Command = AccountCommand;
    type Event = AccountEvent;
    type Refusal = Refusal;

    fn event_type(event: &AccountEvent) -> &'static str {
        match event {
            AccountEvent::Opened { .. } => "Opened",
            AccountEvent::Deposited { .. } => "Deposited",
            AccountEvent::Withdrawn { .. } => "Withdrawn",
            AccountEvent::DepositReversed { .. } => "DepositReversed",
            AccountEvent::TransferredOut { .. } => "TransferredOut",
            AccountEvent::TransferredIn { .. } => "TransferredIn",
            AccountEvent::TransferRefunded { .. } => "TransferRefunded",
        }
    }

    fn handle(&self, command: &AccountCommand) -> Result<Vec<AccountEvent>, Refusal> {
        use AccountCommand as C;
        use AccountEvent as E;
        match command {
            C::Open { holder } if !self.open => Ok(vec![E::Opened {
                holder: holder.clone(),
            }]),
            C::Open { .. } => Err(Refusal::AlreadyOpen),
            _ if !self.open => Err(Refusal::NotOpen),
            C::Deposit { cents, .. }
            | C::Withdraw { cents }
            | C::TransferOut { cents, .. }
            | C::ReceiveTransfer { cents, .. }
                if *cents <= 0 =>
            {
                Err(Refusal::NotPositive)
            }
            C::Deposit { deposit_id, .. } if find(&self.deposits, deposit_id).is_some() => {
                Ok(Vec::new())
            }
            C::Deposit { deposit_id, cents } => Ok(vec![E::Deposited {
                deposit_id: deposit_id.clone(),
                cents: *cents,
            }]),
            C::Withdraw { cents } | C::TransferOut { cents, .. } if *cents > self.cents => {
                Err(Refusal::Insufficient {
                    balance: self.cents,
                })
            }
            C::Withdraw { cents } => Ok(vec![E::Withdrawn { cents: *cents }]),
            C::TransferOut {
                transfer_id,
                to,
                cents,
            } => Ok(vec![E::TransferredOut {
                transfer_id: transfer_id.clone(),
                to: to.clone(),
                cents: *cents,
            }]),
            C::ReceiveTransfer {
                transfer_id,
                from,
                cents,
            } => Ok(vec![E::TransferredIn {
                transfer_id: transfer_id.clone(),
                from: from.clone(),
                cents: *cents,
            }]),
            C::ReverseDeposit { deposit_id } => {
                let cents = find(&self.deposits, deposit_id)
                    .ok_or_else(|| Refusal::UnknownDeposit(deposit_id.clone()))?;
                if cents > self.cents {
                    return Err(Refusal::Insufficient {
                        balance: self.cents,
                    });
                }
                Ok(vec![E::DepositReversed {
                    deposit_id: deposit_id.clone(),
                    cents,
                }])
            }
            C::RefundTransfer {
                transfer_id,
                reason,
            } => {
                let cents = find(&self.transfers_out, transfer_id)
                    .ok_or_else(|| Refusal::UnknownTransfer(transfer_id.clone()))?;
                Ok(vec![E::TransferRefunded {
                    transfer_id: transfer_id.clone(),
                    cents,
                    reason: reason.clone(),
                }])
            }
        }
    }

    fn apply(&mut self, event: &AccountEvent) {
        self.cents += event.cents_delta();
        match event {
            AccountEvent::Opened { .. } => self.open = true,
            AccountEvent::Deposited { deposit_id, cents } => {
                remember(&mut self.deposits, deposit_id, *cents)
            }
            AccountEvent::DepositReversed { deposit_id, .. } => {
                self.deposits.retain(|(id, _)| id != deposit_id)
            }
            AccountEvent::TransferredOut {
                transfer_id, cents, ..
            } => remember(&mut self.transfers_out, transfer_id, *cents),
            AccountEvent::TransferRefunded { transfer_id, .. } => {
                self.transfers_out.retain(|(id, _)| id != transfer_id)
            }
            AccountEvent::Withdrawn { .. } | AccountEvent::TransferredIn { .. } => {}
        }
    }
}
