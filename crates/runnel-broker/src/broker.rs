//! The broker as a whole: start-up, shared state, background maintenance, shutdown.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use runnel_log::SystemClock;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::acls::Acls;
use crate::config::BrokerConfig;
use crate::connections::Admission;
use crate::error::BrokerError;
use crate::fetch_sessions::FetchSessions;
use crate::groups::GroupCoordinator;
use crate::listeners::{self, ListenerError, ListenerInfo, ListenerSpec};
use crate::metrics::BrokerMetrics;
use crate::quotas::Quotas;
use crate::sasl::SaslShared;
use crate::scram_credentials::ScramCredentials;
use crate::server;
use crate::share::ShareCoordinator;
use crate::tls::TlsContext;
use crate::topics::{self, Topics};
use crate::txn::producer_ids::ProducerIds;
use crate::txn::TransactionCoordinator;

/// What every request handler can reach.
#[derive(Debug)]
pub struct BrokerState {
    pub config: BrokerConfig,
    pub cluster_id: String,
    /// The SSL listeners' certificates, when there are SSL listeners.
    pub tls: Option<Arc<TlsContext>>,
    pub topics: Topics,
    pub groups: GroupCoordinator,
    pub transactions: TransactionCoordinator,
    pub shares: ShareCoordinator,
    pub fetch_sessions: FetchSessions,
    /// Client quotas and the rates measured against them.
    pub quotas: Quotas,
    /// The users' SCRAM credentials (also checked by SASL/PLAIN).
    pub scram_credentials: ScramCredentials,
    /// Whether requests are authorized, and the ACLs they are authorized against.
    pub acls: Acls,
    /// What the connections of SASL listeners share.
    pub sasl: SaslShared,
    /// Series counted as requests are served (see `metrics`).
    pub metrics: BrokerMetrics,
    /// Open connections against `max.connections` and `max.connections.per.ip`.
    pub connections: Arc<Admission>,
    shutdown: watch::Receiver<bool>,
    /// Fetch requests currently waiting for data (an observable for tests and metrics).
    parked_fetches: AtomicUsize,
    /// Request handlers that panicked (each closed its connection); should stay 0.
    handler_panics: AtomicUsize,
}

impl BrokerState {
    /// Completes when the broker starts shutting down; long polls end early on it.
    pub async fn shutting_down(&self) {
        let mut rx = self.shutdown.clone();
        // An error means the sender is gone, which also means shutdown.
        let _ = rx.wait_for(|stop| *stop).await;
    }

    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    pub(crate) fn shutdown_receiver(&self) -> watch::Receiver<bool> {
        self.shutdown.clone()
    }

    /// How many fetch requests are waiting for data right now.
    pub fn parked_fetches(&self) -> usize {
        self.parked_fetches.load(Ordering::Acquire)
    }

    /// How many request handlers have panicked since start (a bug each time).
    pub fn handler_panics(&self) -> usize {
        self.handler_panics.load(Ordering::Acquire)
    }

    pub(crate) fn count_handler_panic(&self) {
        self.handler_panics.fetch_add(1, Ordering::AcqRel);
    }

    /// Counts a waiting fetch for as long as the returned guard lives.
    pub(crate) fn park_fetch(&self) -> ParkedFetch<'_> {
        self.parked_fetches.fetch_add(1, Ordering::AcqRel);
        ParkedFetch(&self.parked_fetches)
    }
}

/// See [`BrokerState::park_fetch`].
#[derive(Debug)]
pub(crate) struct ParkedFetch<'a>(&'a AtomicUsize);

impl Drop for ParkedFetch<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A running broker. Stop it with [`Broker::shutdown`], which closes every log cleanly.
#[derive(Debug)]
pub struct Broker {
    state: Arc<BrokerState>,
    listeners: Vec<Arc<ListenerInfo>>,
    stop: watch::Sender<bool>,
    servers: Vec<JoinHandle<()>>,
    maintenance: Option<JoinHandle<()>>,
}

impl Broker {
    /// Opens the data directory, binds the listeners and starts serving.
    pub async fn start(config: BrokerConfig) -> Result<Broker, BrokerError> {
        let specs = listeners::resolve(
            &config.listen,
            config.advertise.as_deref(),
            &config.protocol_map,
        )?;
        // One TLS configuration for every SSL listener, loaded before anything is bound so
        // that a bad certificate stops the start.
        let tls = match specs.iter().any(|s| s.protocol.uses_tls()) {
            true => Some(Arc::new(TlsContext::load(
                config.tls.clone(),
                tokio::time::Instant::now(),
            )?)),
            false => None,
        };
        if let Some(spec) = specs
            .iter()
            .find(|s| s.protocol.uses_sasl() && config.sasl.mechanisms_of(&s.name).is_empty())
        {
            return Err(ListenerError::NoSaslMechanism(
                spec.name.clone(),
                spec.protocol,
                spec.name.to_ascii_lowercase(),
            )
            .into());
        }
        let mut bound = Vec::with_capacity(specs.len());
        for spec in &specs {
            bound.push(bind(spec).await?);
        }

        let opening = config.clone();
        let (topics, cluster_id, producer_ids, quotas, scram_credentials, acls) =
            tokio::task::spawn_blocking(move || -> Result<_, BrokerError> {
                let cluster_id = meta_properties(&opening.data_dir, opening.node_id)?;
                let topics = Topics::open(
                    &opening.data_dir,
                    opening.log_defaults.clone(),
                    Duration::from_millis(opening.cleaner_backoff_ms),
                )?;
                let producer_ids =
                    ProducerIds::open(&opening.data_dir).map_err(topics::TopicError::Log)?;
                let quotas = Quotas::open(
                    &opening.data_dir,
                    opening.quota_windows,
                    Arc::new(SystemClock),
                )?;
                let scram_credentials = ScramCredentials::open(&opening.data_dir)?;
                let acls = Acls::open(&opening.data_dir, &opening.authorization)?;
                Ok((
                    topics,
                    cluster_id,
                    producer_ids,
                    quotas,
                    scram_credentials,
                    acls,
                ))
            })
            .await
            .map_err(|e| BrokerError::Task(e.to_string()))??;

        let (stop, shutdown) = watch::channel(false);
        let groups = GroupCoordinator::new(&config);
        let shares = ShareCoordinator::new(config.share.clone(), Arc::new(SystemClock));
        let connections = Arc::new(Admission::new(
            config.max_connections,
            config.max_connections_per_ip,
        ));
        let metrics = BrokerMetrics::new(config.count_requests);
        let mut decoy_key = vec![0u8; 32];
        getrandom::fill(&mut decoy_key).map_err(|e| BrokerError::Random(e.to_string()))?;
        // Half the cores at most hash passwords for logins; the others keep serving.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let offers_oauthbearer = specs.iter().any(|s| {
            s.protocol.uses_sasl()
                && config
                    .sasl
                    .mechanisms_of(&s.name)
                    .contains(&runnel_auth::Mechanism::OAuthBearer)
        });
        let tokens = match offers_oauthbearer {
            true => Some(config.sasl.oauthbearer.load()?),
            false => None,
        };
        let sasl = SaslShared::new(decoy_key, cores / 2, tokens);
        let state = Arc::new(BrokerState {
            config,
            cluster_id,
            tls,
            topics,
            groups,
            transactions: TransactionCoordinator::new(producer_ids, Arc::new(SystemClock)),
            shares,
            fetch_sessions: FetchSessions::default(),
            quotas,
            scram_credentials,
            acls,
            sasl,
            metrics,
            connections,
            shutdown,
            parked_fetches: AtomicUsize::new(0),
            handler_panics: AtomicUsize::new(0),
        });
        crate::groups::load(&state).await?;
        crate::share::load(&state).await?;
        let transactional_ids = state
            .transactions
            .recover(&state)
            .await
            .map_err(topics::TopicError::Log)?;
        if transactional_ids > 0 {
            tracing::info!(transactional_ids, "loaded transaction state");
        }
        let mut servers = Vec::with_capacity(bound.len());
        let mut listeners = Vec::with_capacity(bound.len());
        for (listener, info) in bound {
            tracing::info!(
                listener = %info.name,
                protocol = %info.protocol,
                listen = %info.local_addr,
                advertised = %format!("{}:{}", info.advertised_host, info.advertised_port),
                "listener started"
            );
            let tls = info
                .protocol
                .uses_tls()
                .then(|| state.tls.clone())
                .flatten();
            servers.push(tokio::spawn(server::serve(
                listener,
                Arc::clone(&info),
                tls,
                Arc::clone(&state),
            )));
            listeners.push(info);
        }
        let maintenance = tokio::spawn(maintain(Arc::clone(&state)));
        tracing::info!(
            data_dir = %state.config.data_dir.display(),
            cluster_id = %state.cluster_id,
            "broker started"
        );
        Ok(Broker {
            state,
            listeners,
            stop,
            servers,
            maintenance: Some(maintenance),
        })
    }

    /// The address the first listener is bound to (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listeners[0].local_addr
    }

    /// Every listener, in the order configured.
    pub fn listeners(&self) -> &[Arc<ListenerInfo>] {
        &self.listeners
    }

    /// The address of the listener named `name` (as configured, upper-cased).
    pub fn listener_addr(&self, name: &str) -> Option<SocketAddr> {
        self.listeners
            .iter()
            .find(|l| l.name.eq_ignore_ascii_case(name))
            .map(|l| l.local_addr)
    }

    pub fn state(&self) -> &Arc<BrokerState> {
        &self.state
    }

    /// Stops accepting, lets in-flight requests finish (long polls return early), then
    /// closes every log so the next start finds a clean shutdown.
    pub async fn shutdown(mut self) -> Result<(), BrokerError> {
        tracing::info!("broker shutting down");
        let _ = self.stop.send(true);
        for server in std::mem::take(&mut self.servers) {
            server.await.map_err(|e| BrokerError::Task(e.to_string()))?;
        }
        if let Some(maintenance) = self.maintenance.take() {
            maintenance
                .await
                .map_err(|e| BrokerError::Task(e.to_string()))?;
        }
        let state = Arc::clone(&self.state);
        tokio::task::spawn_blocking(move || state.topics.close_all())
            .await
            .map_err(|e| BrokerError::Task(e.to_string()))??;
        tracing::info!("broker stopped");
        Ok(())
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        // Without `shutdown` the logs are not closed cleanly (they recover on next open),
        // but the tasks must still stop.
        let _ = self.stop.send(true);
    }
}

/// Binds one listener.
async fn bind(spec: &ListenerSpec) -> Result<(TcpListener, Arc<ListenerInfo>), BrokerError> {
    let bind_error = |source| BrokerError::Bind {
        address: format!("{} ({})", spec.bind, spec.name),
        source,
    };
    let listener = TcpListener::bind(&spec.bind).await.map_err(bind_error)?;
    let local_addr = listener.local_addr().map_err(bind_error)?;
    Ok((listener, Arc::new(ListenerInfo::new(spec, local_addr))))
}

/// Retention and time-based flushing, until shutdown.
async fn maintain(state: Arc<BrokerState>) {
    let mut retention = tokio::time::interval(Duration::from_millis(
        state.config.retention_check_interval_ms,
    ));
    let mut flush = tokio::time::interval(Duration::from_millis(
        state.config.flush_scheduler_interval_ms,
    ));
    let mut groups = tokio::time::interval(Duration::from_millis(crate::groups::SWEEP_INTERVAL_MS));
    let mut transactions = tokio::time::interval(Duration::from_millis(
        state.config.transaction_cleanup_interval_ms,
    ));
    let mut shares = tokio::time::interval(Duration::from_millis(crate::share::SWEEP_INTERVAL_MS));
    for timer in [
        &mut retention,
        &mut flush,
        &mut groups,
        &mut transactions,
        &mut shares,
    ] {
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    }
    loop {
        tokio::select! {
            _ = state.shutting_down() => return,
            _ = retention.tick() => {
                let s = Arc::clone(&state);
                let deleted = tokio::task::spawn_blocking(move || s.topics.enforce_retention()).await;
                if let Ok(n) = deleted {
                    if n > 0 {
                        tracing::info!(segments = n, "retention deleted segments");
                    }
                }
            }
            _ = flush.tick() => {
                let s = Arc::clone(&state);
                let _ = tokio::task::spawn_blocking(move || s.topics.flush_due()).await;
            }
            _ = groups.tick() => crate::groups::sweep(&state).await,
            _ = shares.tick() => crate::share::sweep(&state).await,
            _ = transactions.tick() => {
                state.transactions.sweep(&state).await;
                let s = Arc::clone(&state);
                let _ = tokio::task::spawn_blocking(move || s.topics.expire_producers(s.config.producer_id_expiration_ms)).await;
            }
        }
    }
}

/// Replays an internal topic at start-up on the blocking pool (`replay` reads the disk).
pub(crate) async fn replay<T: Send + 'static>(
    state: &Arc<BrokerState>,
    replay: fn(&BrokerState) -> Result<T, runnel_log::LogError>,
) -> Result<T, BrokerError> {
    let s = Arc::clone(state);
    tokio::task::spawn_blocking(move || replay(&s))
        .await
        .map_err(|e| BrokerError::Task(e.to_string()))?
        .map_err(|e| BrokerError::Topic(topics::TopicError::Log(e)))
}

/// `HOST:PORT`, where HOST may be a bracketed IPv6 address.
pub fn parse_host_port(address: &str) -> Option<(String, i32)> {
    let (host, port) = address.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return None;
    }
    Some((host.to_owned(), i32::from(port)))
}

/// Reads `meta.properties` (Kafka's name and format), writing it at first start; returns
/// the cluster id. A node id other than the recorded one is refused: the data belongs to
/// another node.
fn meta_properties(data_dir: &Path, node_id: i32) -> Result<String, BrokerError> {
    let path = data_dir.join("meta.properties");
    std::fs::create_dir_all(data_dir).map_err(|source| topics::TopicError::Io {
        path: data_dir.to_owned(),
        source,
    })?;
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let get = |key: &str| {
                text.lines()
                    .filter_map(|l| l.split_once('='))
                    .find(|(k, _)| k.trim() == key)
                    .map(|(_, v)| v.trim().to_owned())
            };
            let corrupt = |message: String| topics::TopicError::CorruptMetadata {
                path: path.clone(),
                message,
            };
            let cluster_id =
                get("cluster.id").ok_or_else(|| corrupt("no cluster.id".to_owned()))?;
            if let Some(stored) = get("node.id") {
                if stored != node_id.to_string() {
                    return Err(corrupt(format!(
                        "node.id {stored} recorded, {node_id} configured"
                    ))
                    .into());
                }
            }
            Ok(cluster_id)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let cluster_id = uuid::Uuid::new_v4().simple().to_string();
            let text = format!("version=1\ncluster.id={cluster_id}\nnode.id={node_id}\n");
            topics::write_atomically(&path, text.as_bytes())?;
            Ok(cluster_id)
        }
        Err(source) => Err(topics::TopicError::Io { path, source }.into()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn host_port_parsing() {
        assert_eq!(
            parse_host_port("example.com:9093"),
            Some(("example.com".to_owned(), 9093))
        );
        assert_eq!(
            parse_host_port("[::1]:9092"),
            Some(("::1".to_owned(), 9092))
        );
        assert_eq!(parse_host_port("nohost"), None);
        assert_eq!(parse_host_port(":9092"), None);
        assert_eq!(parse_host_port("h:99999"), None);
    }

    #[test]
    fn cluster_id_is_kept_and_node_id_checked() {
        let dir = tempfile::tempdir().unwrap();
        let id = meta_properties(dir.path(), 0).unwrap();
        assert_eq!(meta_properties(dir.path(), 0).unwrap(), id);
        assert!(meta_properties(dir.path(), 1).is_err());
    }
}
