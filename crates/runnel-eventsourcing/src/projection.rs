//! Read models (CQRS): projections folding the events topic into one model per aggregate, as
//! `runnel-streams` jobs run by `runnel-streams-kafka`, and rebuilt from the first event by
//! starting their next generation.
//!
//! A projection of generation `g` is the streams application `<name>-v<g>`: it reads the
//! events topic from offset 0 (a new application id has no committed offsets), folds each
//! aggregate's events into its model kept in the store `model` (changelog
//! `<name>-v<g>-model-changelog`), and writes every new model to the compacted topic
//! `<name>-v<g>`, keyed by aggregate id, exactly once. A [`ReadModelView`](crate::ReadModelView)
//! serves queries from that topic.

use std::marker::PhantomData;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::BaseConsumer;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientConfig;
use runnel_streams::{JsonSerde, Serde, StreamsError, StringSerde, TopologyBuilder};
use runnel_streams_kafka::{Guarantee, Metrics, RunningApp, StreamsApp, StreamsConfig};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::aggregate::Aggregate;
use crate::error::EventStoreError;
use crate::event::{decode_commit, Commit, Envelope, StoredEvent, Upcasters};
use crate::follow::partition_count;

/// A model derived from the events of each aggregate of type `Aggregate`: one value per
/// aggregate id, starting from `Default`.
pub trait ReadModel: Clone + Default + Serialize + DeserializeOwned + 'static {
    type Aggregate: Aggregate;

    /// Folds one event of aggregate `id` into the model.
    fn apply(&mut self, id: &str, event: &Envelope<<Self::Aggregate as Aggregate>::Event>);
}

/// Where a projection runs.
#[derive(Debug, Clone)]
pub struct ProjectionConfig {
    /// Names the streams application and the output topic, with the generation.
    pub name: String,
    pub bootstrap: String,
    pub events_topic: String,
    /// The parent of the applications' state directories.
    pub state_dir: PathBuf,
    pub generation: u32,
}

impl ProjectionConfig {
    /// The streams application id, and the name of the output topic.
    pub fn application_id(&self) -> String {
        format!("{}-v{}", self.name, self.generation)
    }
}

/// A running projection of the read model `M`.
pub struct Projection<M: ReadModel> {
    config: ProjectionConfig,
    upcasters: Arc<Upcasters>,
    app: RunningApp,
    _model: PhantomData<fn() -> M>,
}

impl<M: ReadModel> std::fmt::Debug for Projection<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Projection")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<M: ReadModel> Projection<M> {
    /// Creates the output topic (compacted) if needed and starts the projection's streams
    /// application, which goes on from its committed offsets, or from offset 0 the first time.
    pub async fn start(
        config: ProjectionConfig,
        upcasters: Arc<Upcasters>,
    ) -> Result<Projection<M>, EventStoreError> {
        create_output_topic(&config).await?;
        let streams = StreamsConfig::new(&config.application_id(), &config.bootstrap)
            .state_dir(&config.state_dir)
            .guarantee(Guarantee::ExactlyOnce);
        let (events, output) = (config.events_topic.clone(), config.application_id());
        let decoding = Arc::clone(&upcasters);
        let app = StreamsApp::new(streams, move |builder: &mut TopologyBuilder| {
            builder
                .stream(
                    &events,
                    StringSerde,
                    CommitSerde::<M::Aggregate>::new(Arc::clone(&decoding)),
                )
                .group_by_key()
                .aggregate(M::default, |id: &String, events, mut model: M| {
                    for envelope in events {
                        model.apply(id, envelope);
                    }
                    model
                })
                .stored("model", StringSerde, JsonSerde::<M>::new())
                .changes()
                .to_topic(&output, StringSerde, JsonSerde::<M>::new());
            Ok(())
        });
        let app = tokio::task::spawn_blocking(move || app.start())
            .await
            .map_err(|e| EventStoreError::Thread(e.to_string()))??;
        Ok(Projection {
            config,
            upcasters,
            app,
            _model: PhantomData,
        })
    }

    /// Rebuilds the read model from the first event: starts the next generation, a new
    /// streams application (no committed offsets, empty stores) writing to a new output
    /// topic, next to this one, which keeps serving until its readers switch and it is
    /// stopped.
    pub async fn rebuild(&self) -> Result<Projection<M>, EventStoreError> {
        let config = ProjectionConfig {
            generation: self.config.generation + 1,
            ..self.config.clone()
        };
        Projection::start(config, Arc::clone(&self.upcasters)).await
    }

    /// The compacted topic holding the latest model of each aggregate.
    pub fn output_topic(&self) -> String {
        self.config.application_id()
    }

    pub fn config(&self) -> &ProjectionConfig {
        &self.config
    }

    pub fn metrics(&self) -> Metrics {
        self.app.metrics()
    }

    /// Whether the job ended, which it does only on an error (an event that does not
    /// decode, a store that cannot be restored): `stop` returns it.
    pub fn is_finished(&self) -> bool {
        self.app.is_finished()
    }

    /// Commits what was processed and stops.
    pub fn stop(self) -> Result<(), EventStoreError> {
        Ok(self.app.stop()?)
    }
}

async fn create_output_topic(config: &ProjectionConfig) -> Result<(), EventStoreError> {
    let client = ClientConfig::new()
        .set("bootstrap.servers", &config.bootstrap)
        .clone();
    let probe: BaseConsumer = client.create()?;
    let events_topic = config.events_topic.clone();
    let partitions = tokio::task::spawn_blocking(move || partition_count(&probe, &events_topic))
        .await
        .map_err(|e| EventStoreError::Thread(e.to_string()))??;
    let admin: AdminClient<DefaultClientContext> = client.create()?;
    let topic = config.application_id();
    let created = admin
        .create_topics(
            &[
                NewTopic::new(&topic, partitions, TopicReplication::Fixed(1))
                    .set("cleanup.policy", "compact"),
            ],
            &AdminOptions::new(),
        )
        .await?;
    match created.into_iter().next() {
        Some(Err((_, code))) if code != RDKafkaErrorCode::TopicAlreadyExists => {
            Err(EventStoreError::CreateTopic { topic, code })
        }
        _ => Ok(()),
    }
}

/// Decodes a commit record into its events at the aggregate's current schema version.
struct CommitSerde<A> {
    upcasters: Arc<Upcasters>,
    _aggregate: PhantomData<fn() -> A>,
}

impl<A> CommitSerde<A> {
    fn new(upcasters: Arc<Upcasters>) -> Self {
        CommitSerde {
            upcasters,
            _aggregate: PhantomData,
        }
    }
}

impl<A: Aggregate> Serde<Vec<Envelope<A::Event>>> for CommitSerde<A> {
    fn serialize(&self, events: &Vec<Envelope<A::Event>>) -> Result<Bytes, StreamsError> {
        let events = events
            .iter()
            .map(|envelope| {
                Ok(StoredEvent {
                    event_type: A::event_type(&envelope.event).to_owned(),
                    version: A::EVENT_VERSION,
                    data: serde_json::to_value(&envelope.event)?,
                    metadata: envelope.metadata.clone(),
                })
            })
            .collect::<Result<Vec<_>, serde_json::Error>>()
            .map_err(|e| StreamsError::Serde(e.to_string()))?;
        serde_json::to_vec(&Commit { events })
            .map(Bytes::from)
            .map_err(|e| StreamsError::Serde(e.to_string()))
    }

    fn deserialize(&self, bytes: &[u8]) -> Result<Vec<Envelope<A::Event>>, StreamsError> {
        decode_commit(bytes, &self.upcasters, A::EVENT_VERSION).map_err(StreamsError::Serde)
    }
}
