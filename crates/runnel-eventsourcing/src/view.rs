//! The query side of a read model: the latest model of each aggregate, kept in memory from
//! a projection's compacted output topic.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rdkafka::Message;
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use crate::error::EventStoreError;
use crate::follow::Follower;

type Models<M> = Arc<RwLock<HashMap<String, M>>>;

/// Follows a projection's output topic; queries read memory only. A view lags the events
/// topic by the projection's commit interval and its own poll: it is eventually consistent.
pub struct ReadModelView<M> {
    topic: String,
    models: Models<M>,
    /// Counts the records applied, so that callers can wait for a change.
    applied: watch::Receiver<u64>,
    _follower: Follower,
}

impl<M> std::fmt::Debug for ReadModelView<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadModelView")
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

impl<M: DeserializeOwned + Clone + Send + Sync + 'static> ReadModelView<M> {
    /// Reads `topic` from its beginning and follows it. A record that does not decode is
    /// logged and leaves the aggregate's model as it was; a tombstone removes it.
    pub fn start(bootstrap: &str, topic: &str) -> Result<ReadModelView<M>, EventStoreError> {
        let models: Models<M> = Arc::default();
        let (count, applied) = watch::channel(0);
        let writing = Arc::clone(&models);
        let follower = Follower::start(bootstrap, topic, move |message| {
            let Some(id) = message.key().and_then(|k| std::str::from_utf8(k).ok()) else {
                tracing::warn!(
                    offset = message.offset(),
                    "read model without a UTF-8 key skipped"
                );
                return;
            };
            let mut models = writing.write().unwrap_or_else(|p| p.into_inner());
            match message.payload().map(serde_json::from_slice::<M>) {
                None => {
                    models.remove(id);
                }
                Some(Ok(model)) => {
                    models.insert(id.to_owned(), model);
                }
                Some(Err(error)) => {
                    tracing::warn!(id, offset = message.offset(), %error, "undecodable read model skipped");
                }
            }
            drop(models);
            count.send_modify(|n| *n += 1);
        })?;
        Ok(ReadModelView {
            topic: topic.to_owned(),
            models,
            applied,
            _follower: follower,
        })
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The model of aggregate `id`, if it has any event yet.
    pub fn get(&self, id: &str) -> Option<M> {
        self.read().get(id).cloned()
    }

    /// Every aggregate's model.
    pub fn all(&self) -> BTreeMap<String, M> {
        self.read()
            .iter()
            .map(|(id, model)| (id.clone(), model.clone()))
            .collect()
    }

    /// Waits until `done` holds for the models, re-checking after each record applied.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        mut done: impl FnMut(&HashMap<String, M>) -> bool,
    ) -> Result<(), EventStoreError> {
        let mut applied = self.applied.clone();
        let waited = tokio::time::timeout(timeout, async {
            loop {
                applied.borrow_and_update();
                if done(&self.read()) {
                    return Ok(());
                }
                applied.changed().await?;
            }
        })
        .await;
        match waited {
            Ok(Ok(())) => Ok(()),
            Ok(Err(watch::error::RecvError { .. })) => Err(EventStoreError::ReaderStopped(
                format!("the follower of {} stopped", self.topic),
            )),
            Err(_) => Err(EventStoreError::CatchUpTimeout(timeout)),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, M>> {
        self.models.read().unwrap_or_else(|p| p.into_inner())
    }
}
