//! The HTTP API: commands go through the command handler, queries read the read models.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use runnel_eventsourcing::{
    Cause, CommandError, CommandHandler, EventStoreError, Executed, KeyVault, ReadModelView,
    Revealed,
};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::account::{Account, AccountCommand, Holder, Refusal};
use crate::read_models::{Balance, Statement};

/// Longest account id, name or address accepted.
const MAX_FIELD: usize = 256;

pub struct Bank {
    pub handler: CommandHandler<Account>,
    pub vault: KeyVault,
    pub balances: ReadModelView<Balance>,
    pub statements: ReadModelView<Statement>,
    pub new_id: Arc<dyn Fn() -> String + Send + Sync>,
}

pub fn router(bank: Arc<Bank>) -> Router {
    Router::new()
        .route("/accounts", post(open))
        .route("/accounts/{id}/deposits", post(deposit))
        .route(
            "/accounts/{id}/deposits/{deposit_id}/reversal",
            post(reverse_deposit),
        )
        .route("/accounts/{id}/withdrawals", post(withdraw))
        .route("/accounts/{id}/balance", get(balance))
        .route("/accounts/{id}/statement", get(statement))
        .route("/accounts/{id}/personal-data", delete(forget))
        .route("/transfers", post(transfer))
        .with_state(bank)
}

type Reply = Result<(StatusCode, Json<Value>), Failure>;

/// Why a request failed, as an HTTP status and a JSON `{"error": ...}`.
#[derive(Debug)]
pub struct Failure(StatusCode, String);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.0, Json(json!({"error": self.1}))).into_response()
    }
}

impl From<EventStoreError> for Failure {
    fn from(error: EventStoreError) -> Self {
        match error {
            EventStoreError::Forgotten(_) => Failure(StatusCode::CONFLICT, error.to_string()),
            _ => Failure(StatusCode::SERVICE_UNAVAILABLE, error.to_string()),
        }
    }
}

impl From<CommandError<Refusal>> for Failure {
    fn from(error: CommandError<Refusal>) -> Self {
        match error {
            CommandError::Refused(refusal @ Refusal::NotPositive) => {
                Failure(StatusCode::UNPROCESSABLE_ENTITY, refusal.to_string())
            }
            CommandError::Refused(refusal @ Refusal::NotOpen) => {
                Failure(StatusCode::NOT_FOUND, refusal.to_string())
            }
            CommandError::Refused(refusal) => Failure(StatusCode::CONFLICT, refusal.to_string()),
            CommandError::Store(error) => error.into(),
        }
    }
}

fn check(field: &str, value: &str) -> Result<(), Failure> {
    if value.is_empty() || value.len() > MAX_FIELD {
        return Err(Failure(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{field} must have 1 to {MAX_FIELD} bytes"),
        ));
    }
    Ok(())
}

impl Bank {
    /// The request's id (its `x-request-id` header, or a new one): the correlation id of
    /// everything it causes.
    fn request_id(&self, headers: &HeaderMap) -> String {
        headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= MAX_FIELD)
            .map_or_else(|| (self.new_id)(), str::to_owned)
    }

    async fn execute(
        &self,
        id: &str,
        command: AccountCommand,
        cause: Cause,
    ) -> Result<Executed, CommandError<Refusal>> {
        self.handler.execute(id, &command, &cause).await
    }
}

fn caused_by(request: &str, cause: &str) -> Cause {
    Cause {
        correlation_id: request.to_owned(),
        causation_id: cause.to_owned(),
    }
}

#[derive(Deserialize)]
struct OpenRequest {
    id: String,
    name: String,
    address: String,
}

async fn open(
    State(bank): State<Arc<Bank>>,
    headers: HeaderMap,
    Json(body): Json<OpenRequest>,
) -> Reply {
    check("id", &body.id)?;
    check("name", &body.name)?;
    check("address", &body.address)?;
    let request = bank.request_id(&headers);
    let holder = Holder {
        name: body.name,
        address: body.address,
    };
    let plaintext = serde_json::to_vec(&holder).map_err(EventStoreError::from)?;
    let holder = bank.vault.seal(&body.id, &plaintext).await?;
    let executed = bank
        .execute(
            &body.id,
            AccountCommand::Open { holder },
            caused_by(&request, &request),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": body.id, "offset": executed.offset})),
    ))
}

#[derive(Deserialize)]
struct DepositRequest {
    cents: i64,
    /// Makes a retried deposit count once; a new id when absent.
    deposit_id: Option<String>,
}

async fn deposit(
    State(bank): State<Arc<Bank>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<DepositRequest>,
) -> Reply {
    let request = bank.request_id(&headers);
    let deposit_id = body.deposit_id.unwrap_or_else(|| (bank.new_id)());
    check("deposit_id", &deposit_id)?;
    let command = AccountCommand::Deposit {
        deposit_id: deposit_id.clone(),
        cents: body.cents,
    };
    let executed = bank
        .execute(&id, command, caused_by(&request, &request))
        .await?;
    Ok((
        StatusCode::OK,
        Json(json!({"deposit_id": deposit_id, "offset": executed.offset})),
    ))
}

/// A compensating event: the deposit stays in the history, and the reversal, caused by it
/// (its causation id is the deposit's id), takes its amount back.
async fn reverse_deposit(
    State(bank): State<Arc<Bank>>,
    Path((id, deposit_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Reply {
    let request = bank.request_id(&headers);
    let command = AccountCommand::ReverseDeposit {
        deposit_id: deposit_id.clone(),
    };
    let executed = bank
        .execute(&id, command, caused_by(&request, &deposit_id))
        .await?;
    Ok((StatusCode::OK, Json(json!({"offset": executed.offset}))))
}

#[derive(Deserialize)]
struct WithdrawRequest {
    cents: i64,
}

async fn withdraw(
    State(bank): State<Arc<Bank>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<WithdrawRequest>,
) -> Reply {
    let request = bank.request_id(&headers);
    let command = AccountCommand::Withdraw { cents: body.cents };
    let executed = bank
        .execute(&id, command, caused_by(&request, &request))
        .await?;
    Ok((StatusCode::OK, Json(json!({"offset": executed.offset}))))
}

#[derive(Deserialize)]
struct TransferRequest {
    from: String,
    to: String,
    cents: i64,
}

/// A transfer touches two aggregates, each its own consistency boundary: the money leaves
/// the source (`TransferredOut`, refused like a withdrawal), then enters the target
/// (`TransferredIn`); if the target refuses it, the source gets it back
/// (`TransferRefunded`, a compensating event). Every event of the transfer has its id as
/// correlation id.
async fn transfer(
    State(bank): State<Arc<Bank>>,
    headers: HeaderMap,
    Json(body): Json<TransferRequest>,
) -> Reply {
    check("from", &body.from)?;
    check("to", &body.to)?;
    if body.from == body.to {
        return Err(Failure(
            StatusCode::UNPROCESSABLE_ENTITY,
            "a transfer needs two different accounts".into(),
        ));
    }
    let request = bank.request_id(&headers);
    let transfer_id = (bank.new_id)();
    let out = AccountCommand::TransferOut {
        transfer_id: transfer_id.clone(),
        to: body.to.clone(),
        cents: body.cents,
    };
    bank.execute(&body.from, out, caused_by(&transfer_id, &request))
        .await?;
    let into = AccountCommand::ReceiveTransfer {
        transfer_id: transfer_id.clone(),
        from: body.from.clone(),
        cents: body.cents,
    };
    let refusal = match bank
        .execute(&body.to, into, caused_by(&transfer_id, &transfer_id))
        .await
    {
        Ok(_) => {
            return Ok((
                StatusCode::OK,
                Json(json!({"transfer_id": transfer_id, "status": "completed"})),
            ))
        }
        Err(CommandError::Refused(refusal)) => refusal,
        Err(CommandError::Store(error)) => {
            return Err(Failure(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "transfer {transfer_id} left {} but its deposit into {} is in doubt: {error}",
                    body.from, body.to
                ),
            ))
        }
    };
    let reason = format!("refused by {}: {refusal}", body.to);
    let refund = AccountCommand::RefundTransfer {
        transfer_id: transfer_id.clone(),
        reason: reason.clone(),
    };
    bank.execute(&body.from, refund, caused_by(&transfer_id, &transfer_id))
        .await?;
    Ok((
        StatusCode::CONFLICT,
        Json(json!({"transfer_id": transfer_id, "status": "refunded", "error": reason})),
    ))
}

fn not_found(id: &str) -> Failure {
    Failure(
        StatusCode::NOT_FOUND,
        format!("no account {id} in the read model"),
    )
}

async fn balance(State(bank): State<Arc<Bank>>, Path(id): Path<String>) -> Reply {
    let balance = bank.balances.get(&id).ok_or_else(|| not_found(&id))?;
    let holder = match balance.holder.as_ref().map(|h| bank.vault.reveal(h)) {
        Some(Revealed::Known(bytes)) => serde_json::from_slice::<Holder>(&bytes)
            .map_or_else(|_| json!("unreadable"), |h| json!(h)),
        Some(Revealed::Forgotten) => json!("forgotten"),
        Some(Revealed::Unreadable) | None => json!("unreadable"),
    };
    Ok((
        StatusCode::OK,
        Json(json!({"id": id, "cents": balance.cents, "holder": holder})),
    ))
}

async fn statement(State(bank): State<Arc<Bank>>, Path(id): Path<String>) -> Reply {
    let statement = bank.statements.get(&id).ok_or_else(|| not_found(&id))?;
    Ok((StatusCode::OK, Json(json!(statement))))
}

/// Crypto-shredding: deletes the key of the account's personal data.
async fn forget(
    State(bank): State<Arc<Bank>>,
    Path(id): Path<String>,
) -> Result<StatusCode, Failure> {
    bank.vault.forget(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
