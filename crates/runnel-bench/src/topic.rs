//! Creating the benchmark topic, and waiting until a client sees it.

use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{Client, ClientContext, DefaultClientContext};
use rdkafka::config::ClientConfig;
use rdkafka::types::RDKafkaErrorCode;
use runnel_cli::settings::ClientSettings;

use crate::error::BenchError;

/// How long to wait for the broker to answer set-up requests.
const SETUP_TIMEOUT: Duration = Duration::from_secs(15);

/// Creates `topic` with `partitions` and `settings`; `Ok(false)` if it already existed (which
/// is an error when `settings` were given, since they would not be applied).
pub(crate) async fn ensure(
    bootstrap: &str,
    client: &ClientSettings,
    topic: &str,
    partitions: i32,
    settings: &[(String, String)],
) -> Result<bool, BenchError> {
    if partitions < 1 {
        return Err(BenchError::InvalidArgument(format!(
            "--partitions must be at least 1, got {partitions}"
        )));
    }
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("client.id", "runnel-bench");
    client.apply(&mut config);
    let admin: AdminClient<DefaultClientContext> = config
        .create()
        .map_err(BenchError::kafka("cannot create the admin client"))?;
    let mut new_topic = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    for (key, value) in settings {
        new_topic = new_topic.set(key, value);
    }
    let options = AdminOptions::new()
        .request_timeout(Some(SETUP_TIMEOUT))
        .operation_timeout(Some(SETUP_TIMEOUT));
    let results = admin
        .create_topics([&new_topic], &options)
        .await
        .map_err(BenchError::kafka(format!("cannot create topic {topic}")))?;
    let failure = |message: String| BenchError::Topic {
        topic: topic.to_owned(),
        message,
    };
    match results.into_iter().next() {
        Some(Ok(_)) => Ok(true),
        Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) if settings.is_empty() => Ok(false),
        Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) => Err(failure(
            "exists already, so --topic-config would not apply; delete it or use another name"
                .to_owned(),
        )),
        Some(Err((_, code))) => Err(failure(format!("cannot create it: {code}"))),
        None => Err(failure("CreateTopics returned no result".to_owned())),
    }
}

/// Waits until the client's metadata shows `topic` with every partition led, which also
/// opens the connection to the broker before anything is timed. Returns the partition ids.
pub(crate) fn wait_for_leaders<C: ClientContext>(
    client: &Client<C>,
    topic: &str,
) -> Result<Vec<i32>, BenchError> {
    let deadline = Instant::now() + SETUP_TIMEOUT;
    loop {
        let metadata = client
            .fetch_metadata(Some(topic), SETUP_TIMEOUT)
            .map_err(BenchError::kafka("cannot fetch metadata"))?;
        if let Some(found) = metadata.topics().iter().find(|t| t.name() == topic) {
            let partitions = found.partitions();
            if found.error().is_none()
                && !partitions.is_empty()
                && partitions
                    .iter()
                    .all(|p| p.error().is_none() && p.leader() >= 0)
            {
                let mut ids: Vec<i32> = partitions.iter().map(|p| p.id()).collect();
                ids.sort_unstable();
                return Ok(ids);
            }
        }
        if Instant::now() >= deadline {
            return Err(BenchError::Topic {
                topic: topic.to_owned(),
                message: format!("no leader for every partition after {SETUP_TIMEOUT:?}"),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
