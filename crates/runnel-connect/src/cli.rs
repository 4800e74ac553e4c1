//! `runnel connector`: the command line over the REST API of a running connect worker.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::Value;

use crate::config::ConnectorConfig;
use crate::error::ConfigError;

/// How long one request may take; pausing waits for the tasks to commit.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Args)]
pub struct ConnectorArgs {
    /// The REST API of the worker.
    #[arg(long, default_value = "http://127.0.0.1:8083")]
    pub url: String,
    #[command(subcommand)]
    pub command: ConnectorCommand,
}

#[derive(Debug, Subcommand)]
pub enum ConnectorCommand {
    /// List the connectors.
    List,
    /// Show a connector's state and its tasks' (with the reason of a failure).
    Status { name: String },
    /// Create a connector from a TOML or JSON file.
    Create { file: PathBuf },
    /// Print a connector's settings.
    Config { name: String },
    /// Stop a connector's tasks and forget it.
    Delete { name: String },
    /// Stop a connector's tasks until it is resumed.
    Pause { name: String },
    /// Start a paused or stopped connector's tasks.
    Resume { name: String },
    /// Stop a connector's tasks (the state in which offsets may be reset).
    Stop { name: String },
    /// Restart a connector's tasks, failed ones included.
    Restart { name: String },
    /// Print the committed offsets; with --reset, forget them (the connector must be stopped).
    Offsets {
        name: String,
        #[arg(long)]
        reset: bool,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the connect REST API at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{message} (HTTP {status})")]
    Api { status: u16, message: String },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
}

/// Runs one command and prints its answer to `out`.
pub async fn run(args: &ConnectorArgs, out: &mut impl Write) -> Result<(), ClientError> {
    let base = args.url.trim_end_matches('/').to_owned();
    let client = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(|e| ClientError::Unreachable {
            url: base.clone(),
            reason: e.to_string(),
        })?;
    let api = Api { client, base };
    match &args.command {
        ConnectorCommand::List => {
            let names = api.call(reqwest::Method::GET, "/connectors", None).await?;
            for name in names.as_array().into_iter().flatten() {
                writeln!(out, "{}", name.as_str().unwrap_or_default())?;
            }
        }
        ConnectorCommand::Status { name } => {
            let status = api
                .call(
                    reqwest::Method::GET,
                    &format!("/connectors/{name}/status"),
                    None,
                )
                .await?;
            print_status(&status, out)?;
        }
        ConnectorCommand::Create { file } => {
            let config = ConnectorConfig::read_file(file)?;
            let body = serde_json::json!({"name": config.name(), "config": config.settings()});
            api.call(reqwest::Method::POST, "/connectors", Some(body))
                .await?;
            writeln!(out, "created connector {}", config.name())?;
        }
        ConnectorCommand::Config { name } => {
            let config = api
                .call(
                    reqwest::Method::GET,
                    &format!("/connectors/{name}/config"),
                    None,
                )
                .await?;
            for (key, value) in config.as_object().into_iter().flatten() {
                writeln!(out, "{key}={}", value.as_str().unwrap_or_default())?;
            }
        }
        ConnectorCommand::Delete { name } => {
            api.call(
                reqwest::Method::DELETE,
                &format!("/connectors/{name}"),
                None,
            )
            .await?;
            writeln!(out, "deleted connector {name}")?;
        }
        ConnectorCommand::Pause { name } => {
            api.call(
                reqwest::Method::PUT,
                &format!("/connectors/{name}/pause"),
                None,
            )
            .await?;
            writeln!(out, "paused connector {name}")?;
        }
        ConnectorCommand::Resume { name } => {
            api.call(
                reqwest::Method::PUT,
                &format!("/connectors/{name}/resume"),
                None,
            )
            .await?;
            writeln!(out, "resumed connector {name}")?;
        }
        ConnectorCommand::Stop { name } => {
            api.call(
                reqwest::Method::PUT,
                &format!("/connectors/{name}/stop"),
                None,
            )
            .await?;
            writeln!(out, "stopped connector {name}")?;
        }
        ConnectorCommand::Restart { name } => {
            api.call(
                reqwest::Method::POST,
                &format!("/connectors/{name}/restart"),
                None,
            )
            .await?;
            writeln!(out, "restarted connector {name}")?;
        }
        ConnectorCommand::Offsets { name, reset } => {
            let path = format!("/connectors/{name}/offsets");
            if *reset {
                api.call(reqwest::Method::DELETE, &path, None).await?;
                writeln!(out, "reset the offsets of connector {name}")?;
            } else {
                let offsets = api.call(reqwest::Method::GET, &path, None).await?;
                let status = api
                    .call(
                        reqwest::Method::GET,
                        &format!("/connectors/{name}/status"),
                        None,
                    )
                    .await?;
                if status["type"] == "source" {
                    // A source's partitions and offsets are its own JSON objects.
                    writeln!(out, "SOURCE PARTITION\tSOURCE OFFSET")?;
                    for entry in offsets["offsets"].as_array().into_iter().flatten() {
                        writeln!(out, "{}\t{}", entry["partition"], entry["offset"])?;
                    }
                    return Ok(());
                }
                writeln!(out, "TOPIC\tPARTITION\tOFFSET")?;
                for entry in offsets["offsets"].as_array().into_iter().flatten() {
                    writeln!(
                        out,
                        "{}\t{}\t{}",
                        entry["partition"]["kafka_topic"]
                            .as_str()
                            .unwrap_or_default(),
                        entry["partition"]["kafka_partition"],
                        entry["offset"]["kafka_offset"]
                    )?;
                }
            }
        }
    }
    Ok(())
}

struct Api {
    client: reqwest::Client,
    base: String,
}

impl Api {
    /// One request; an error answer becomes `ClientError::Api` with the API's message.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, ClientError> {
        let url = format!("{}{path}", self.base);
        let mut request = self.client.request(method, &url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let unreachable = |e: reqwest::Error| ClientError::Unreachable {
            url: self.base.clone(),
            reason: e.to_string(),
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        let text = response.text().await.map_err(unreachable)?;
        let answer: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if status.is_success() {
            Ok(answer)
        } else {
            Err(ClientError::Api {
                status: status.as_u16(),
                message: answer["message"]
                    .as_str()
                    .unwrap_or(status.as_str())
                    .to_owned(),
            })
        }
    }
}

fn print_status(status: &Value, out: &mut impl Write) -> std::io::Result<()> {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    writeln!(
        out,
        "connector {}: {} on {}",
        text(&status["name"]),
        text(&status["connector"]["state"]),
        text(&status["connector"]["worker_id"])
    )?;
    if let Some(trace) = status["connector"]["trace"].as_str() {
        writeln!(out, "  error: {trace}")?;
    }
    for task in status["tasks"].as_array().into_iter().flatten() {
        if let Some(polled) = task.get("records_polled") {
            writeln!(
                out,
                "  task {}: {} (polled {polled}, written {}, failed {})",
                task["id"],
                text(&task["state"]),
                task["records_written"],
                task["records_failed"]
            )?;
        } else {
            writeln!(
                out,
                "  task {}: {} (written {}, failed {}, dead-lettered {})",
                task["id"],
                text(&task["state"]),
                task["records_written"],
                task["records_failed"],
                task["records_dead_lettered"]
            )?;
        }
        if let Some(retrying) = task.get("retrying").filter(|r| !r.is_null()) {
            writeln!(
                out,
                "    retrying (attempt {}): {}",
                retrying["attempts"],
                text(&retrying["last_error"])
            )?;
        }
        if let Some(trace) = task["trace"].as_str() {
            writeln!(out, "    error: {trace}")?;
        }
    }
    Ok(())
}
