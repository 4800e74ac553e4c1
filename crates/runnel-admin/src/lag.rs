//! Consumer lag evaluation inside the admin server: a loop that looks at every group's
//! committed offsets at a fixed interval, the evaluator that remembers them, and the
//! webhooks told when a group's status changes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use runnel_lag::{GroupLag, LagEvaluator, LagReport, Limits, Status};
use serde::Serialize;
use tokio::sync::{mpsc, watch};

use crate::Source;

/// Milliseconds since the Unix epoch, as the server reads them (injected for tests).
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// Status changes waiting to be posted; beyond this, changes are dropped and logged.
const NOTIFICATION_QUEUE: usize = 1_024;

/// How lag is evaluated and who hears of it.
#[derive(Clone)]
pub struct LagSettings {
    pub limits: Limits,
    /// How often the committed offsets are looked at.
    pub interval: Duration,
    /// URLs (`http://` only) that receive a JSON POST when a group's status changes.
    pub webhooks: Vec<String>,
    pub clock: Clock,
}

impl std::fmt::Debug for LagSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LagSettings")
            .field("limits", &self.limits)
            .field("interval", &self.interval)
            .field("webhooks", &self.webhooks)
            .finish_non_exhaustive()
    }
}

impl Default for LagSettings {
    /// Looks every 5 s over a 10-minute window, tells no one, reads the system clock.
    fn default() -> Self {
        LagSettings {
            limits: Limits::default(),
            interval: Duration::from_secs(5),
            webhooks: Vec::new(),
            clock: Arc::new(system_now_ms),
        }
    }
}

fn system_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The body POSTed to each webhook.
#[derive(Debug, Serialize)]
struct StatusChange<'a> {
    group: &'a str,
    previous: Option<Status>,
    status: Status,
    evaluated_at_ms: i64,
    detail: &'a GroupLag,
}

/// The evaluator shared by the loop and the requests.
#[derive(Clone)]
pub(crate) struct Lag {
    evaluator: Arc<Mutex<LagEvaluator>>,
    clock: Clock,
}

impl std::fmt::Debug for Lag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lag").finish_non_exhaustive()
    }
}

impl Lag {
    fn lock(&self) -> MutexGuard<'_, LagEvaluator> {
        self.evaluator.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every group as of now.
    pub(crate) fn report(&self) -> LagReport {
        let now = (self.clock)();
        self.lock().report(now)
    }

    /// One group as of now, with each partition's commit history.
    pub(crate) fn group_report(&self, group: &str) -> Option<GroupLag> {
        let now = (self.clock)();
        self.lock().group_report(now, group)
    }

    fn observe(&self, source: &dyn Source) -> LagReport {
        let observations = source.lag_observations();
        let now = (self.clock)();
        let mut evaluator = self.lock();
        evaluator.observe(now, observations);
        evaluator.report(now)
    }
}

/// Starts the loop; it ends when `stopped` turns true.
pub(crate) fn start(
    settings: LagSettings,
    source: Arc<dyn Source>,
    mut stopped: watch::Receiver<bool>,
) -> Lag {
    let lag = Lag {
        evaluator: Arc::new(Mutex::new(LagEvaluator::new(settings.limits))),
        clock: settings.clock.clone(),
    };
    let notify = (!settings.webhooks.is_empty()).then(|| notifier(settings.webhooks.clone()));
    let looked = lag.clone();
    tokio::spawn(async move {
        let mut statuses: BTreeMap<String, Status> = BTreeMap::new();
        let mut ticks = tokio::time::interval(settings.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = stopped.wait_for(|stop| *stop) => return,
            }
            let source = Arc::clone(&source);
            let report = looked.observe(source.as_ref());
            let changes = changed_groups(&mut statuses, &report);
            if let Some(notify) = &notify {
                for (group, previous) in changes {
                    let body = change_body(&report, &group, previous);
                    if notify.try_send(body).is_err() {
                        tracing::warn!(%group, "lag status change not posted: the webhook queue is full");
                    }
                }
            }
        }
    });
    lag
}

/// The groups whose status differs from the last look, with their previous status; the
/// statuses remembered become this look's.
fn changed_groups(
    statuses: &mut BTreeMap<String, Status>,
    report: &LagReport,
) -> Vec<(String, Option<Status>)> {
    let now: BTreeMap<String, Status> = report
        .groups
        .iter()
        .map(|g| (g.group.clone(), g.status))
        .collect();
    let changes = now
        .iter()
        .filter(|(group, status)| statuses.get(*group) != Some(status))
        .map(|(group, _)| (group.clone(), statuses.get(group).copied()))
        .collect();
    *statuses = now;
    changes
}

fn change_body(report: &LagReport, group: &str, previous: Option<Status>) -> Vec<u8> {
    let Some(detail) = report.group(group) else {
        return Vec::new();
    };
    let change = StatusChange {
        group,
        previous,
        status: detail.status,
        evaluated_at_ms: report.evaluated_at_ms,
        detail,
    };
    serde_json::to_vec(&change).unwrap_or_default()
}

/// A task posting each change to every webhook, in order, one at a time.
fn notifier(webhooks: Vec<String>) -> mpsc::Sender<Vec<u8>> {
    let (send, mut changes) = mpsc::channel::<Vec<u8>>(NOTIFICATION_QUEUE);
    tokio::spawn(async move {
        let client = reqwest::Client::new();
        while let Some(body) = changes.recv().await {
            for url in &webhooks {
                let sent = client
                    .post(url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .timeout(Duration::from_secs(10))
                    .body(body.clone())
                    .send()
                    .await
                    .and_then(|response| response.error_for_status());
                if let Err(error) = sent {
                    tracing::warn!(%url, %error, "cannot post a lag status change");
                }
            }
        }
    });
    send
}
