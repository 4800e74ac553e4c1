//! The connectors page's API: the console calls the Kafka Connect REST API of the worker
//! it was given (`ConsoleSettings::connect_url`), as the `runnel connector` command does,
//! and passes the worker's answers on.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::Value;

use crate::api::{Answer, ApiError, Console, Done};

/// The largest answer read from the worker (the status of every connector and its tasks).
const MAX_ANSWER_BYTES: usize = 4 << 20;

/// What the page can ask of a connector, and how the REST API is asked for it.
#[derive(Debug, Clone, Copy)]
enum Action {
    Pause,
    Resume,
    Restart,
}

impl Action {
    fn parse(text: &str) -> Result<Action, ApiError> {
        match text {
            "pause" => Ok(Action::Pause),
            "resume" => Ok(Action::Resume),
            "restart" => Ok(Action::Restart),
            other => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("unknown connector action {other:?}: pause, resume or restart"),
            )),
        }
    }

    fn method(self) -> reqwest::Method {
        match self {
            Action::Pause | Action::Resume => reqwest::Method::PUT,
            Action::Restart => reqwest::Method::POST,
        }
    }

    fn path(self) -> &'static str {
        match self {
            Action::Pause => "pause",
            Action::Resume => "resume",
            Action::Restart => "restart",
        }
    }

    fn done(self) -> &'static str {
        match self {
            Action::Pause => "paused",
            Action::Resume => "resumed",
            Action::Restart => "restarted",
        }
    }
}

/// Every connector with its status and its tasks' (`GET /connectors?expand=status`), by
/// name.
pub(crate) async fn connectors(State(console): State<Console>) -> Answer<Value> {
    let url = worker_url(&console, &["connectors"], Some(("expand", "status")))?;
    call(&console, reqwest::Method::GET, url).await.map(Json)
}

pub(crate) async fn act(
    State(console): State<Console>,
    Path((name, action)): Path<(String, String)>,
) -> Answer<Done> {
    console.allow_writes()?;
    let action = Action::parse(&action)?;
    let url = worker_url(&console, &["connectors", &name, action.path()], None)?;
    call(&console, action.method(), url).await?;
    Ok(Json(Done {
        done: format!("{} connector {name}", action.done()),
    }))
}

/// The worker's URL for `segments` (each escaped) and a query pair.
fn worker_url(
    console: &Console,
    segments: &[&str],
    query: Option<(&str, &str)>,
) -> Result<reqwest::Url, ApiError> {
    let Some(base) = &console.settings.connect_url else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no Connect worker: start runnel serve with --connectors, or give the worker's \
             URL with --console-connect-url",
        ));
    };
    let mut url = base.clone();
    let unusable = || {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the Connect worker's URL {base} cannot take a path"),
        )
    };
    {
        let mut path = url.path_segments_mut().map_err(|()| unusable())?;
        path.pop_if_empty().extend(segments);
    }
    if let Some((key, value)) = query {
        url.query_pairs_mut().append_pair(key, value);
    }
    Ok(url)
}

/// One request to the worker, within the console's call timeout; the worker's error
/// answers keep their status and message.
async fn call(
    console: &Console,
    method: reqwest::Method,
    url: reqwest::Url,
) -> Result<Value, ApiError> {
    let unreachable = |error: reqwest::Error| {
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            format!("cannot reach the Connect worker: {error}"),
        )
    };
    let mut response = console
        .http
        .request(method, url)
        .timeout(console.settings.request_timeout)
        .send()
        .await
        .map_err(unreachable)?;
    let status = response.status();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                format!("the Connect worker's answer is over {MAX_ANSWER_BYTES} bytes"),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    let answer: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(answer);
    }
    let message = answer["message"].as_str().map_or_else(
        || format!("the Connect worker answered {status}"),
        str::to_owned,
    );
    // A 4xx says the request was wrong (an unknown connector, a refused change); any
    // other failure is the worker's.
    let status = if status.is_client_error() {
        status
    } else {
        StatusCode::BAD_GATEWAY
    };
    Err(ApiError::new(status, message))
}
