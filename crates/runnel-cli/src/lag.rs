//! `runnel group lag`: the consumer lag statuses the broker's admin server evaluates, read
//! from its `/v1/lag` endpoint (the Kafka protocol carries no commit times to judge by).

use std::io::Write;
use std::time::Duration;

use runnel_lag::{GroupLag, LagReport};

use crate::format::Table;
use crate::CliError;

/// Where to read the statuses and how often.
#[derive(Debug, Clone)]
pub struct LagQuery {
    /// The admin server's base URL (`http://host:port`).
    pub admin_url: String,
    /// One group, or every group.
    pub group: Option<String>,
    /// Print again at this interval until interrupted.
    pub watch: Option<Duration>,
}

pub async fn run(query: &LagQuery, out: &mut impl Write) -> Result<(), CliError> {
    let client = reqwest::Client::new();
    loop {
        let groups = fetch(&client, query).await?;
        write_groups(&groups, out).map_err(CliError::Output)?;
        let Some(interval) = query.watch else {
            return Ok(());
        };
        writeln!(out).map_err(CliError::Output)?;
        out.flush().map_err(CliError::Output)?;
        tokio::time::sleep(interval).await;
    }
}

async fn fetch(client: &reqwest::Client, query: &LagQuery) -> Result<Vec<GroupLag>, CliError> {
    let base = query.admin_url.trim_end_matches('/');
    let failed = |reason: String| CliError::Failed {
        action: format!("read the lag statuses from {base}"),
        reason,
    };
    let url = match &query.group {
        Some(group) => format!("{base}/v1/lag/{}", path_segment(group)),
        None => format!("{base}/v1/lag"),
    };
    let response = client
        .get(&url)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| failed(e.to_string()))?;
    if response.status() == reqwest::StatusCode::NOT_FOUND {
        if let Some(group) = &query.group {
            return Err(CliError::UnknownGroup(group.clone()));
        }
    }
    let response = response
        .error_for_status()
        .map_err(|e| failed(e.to_string()))?;
    let body = response.bytes().await.map_err(|e| failed(e.to_string()))?;
    let decoded = match &query.group {
        Some(_) => serde_json::from_slice::<GroupLag>(&body).map(|group| vec![group]),
        None => serde_json::from_slice::<LagReport>(&body).map(|report| report.groups),
    };
    decoded.map_err(|e| failed(format!("unexpected answer: {e}")))
}

/// A group id as one URL path segment: everything but unreserved characters escaped.
fn path_segment(group: &str) -> String {
    group
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn write_groups(groups: &[GroupLag], out: &mut impl Write) -> std::io::Result<()> {
    let mut table = Table::new(&[
        "GROUP",
        "STATUS",
        "TOPIC",
        "PARTITION",
        "PARTITION-STATUS",
        "COMMITTED",
        "LOG-END",
        "LAG",
    ]);
    for group in groups {
        for p in &group.partitions {
            table.row(vec![
                group.group.clone(),
                group.status.to_string(),
                p.topic.clone(),
                p.partition.to_string(),
                p.status.to_string(),
                p.committed_offset.to_string(),
                p.log_end.to_string(),
                p.lag.to_string(),
            ]);
        }
    }
    table.write(out)
}

#[cfg(test)]
mod tests {
    use super::path_segment;

    #[test]
    fn group_ids_become_one_path_segment() {
        assert_eq!(path_segment("orders-v2.app_1"), "orders-v2.app_1");
        assert_eq!(path_segment("a/b c?é"), "a%2Fb%20c%3F%C3%A9");
    }
}
