//! What the connector tests run against, all started by the tests in temporary directories on
//! free ports: a Runnel broker in the test process, PostgreSQL (Debian's binaries, from
//! `initdb`), `redis-server`, and the connect runtime itself.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

pub mod processes;

pub use processes::free_port;
use processes::{as_owner, postgres_bin, postgres_owner};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::message::OwnedHeaders;
use rdkafka::producer::{FutureProducer, FutureRecord};
use runnel_broker::{Broker, BrokerConfig};
use runnel_connect::{ConnectRuntime, ConnectorStatus, KafkaSettings, WorkerConfig};

/// How long a condition may take before a test gives up on it.
pub const PATIENCE: Duration = Duration::from_secs(60);

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
}

/// A Runnel broker on an ephemeral port.
pub struct TestBroker {
    broker: Option<Broker>,
    pub bootstrap: String,
}

impl TestBroker {
    pub async fn start(dir: &Path) -> TestBroker {
        init_tracing();
        let mut config = BrokerConfig::new(dir, "127.0.0.1:0");
        config.group_initial_rebalance_delay_ms = 0;
        let broker = Broker::start(config).await.unwrap();
        let bootstrap = broker.local_addr().to_string();
        TestBroker {
            broker: Some(broker),
            bootstrap,
        }
    }

    pub async fn stop(mut self) {
        if let Some(broker) = self.broker.take() {
            broker.shutdown().await.unwrap();
        }
    }

    pub async fn create_topic(&self, name: &str, partitions: i32) {
        let admin: AdminClient<DefaultClientContext> = client(&self.bootstrap).create().unwrap();
        let topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
        for result in admin
            .create_topics([&topic], &AdminOptions::new())
            .await
            .unwrap()
        {
            result.unwrap();
        }
    }

    pub fn producer(&self) -> FutureProducer {
        client(&self.bootstrap)
            .set("linger.ms", "5")
            .create()
            .unwrap()
    }
}

pub fn client(bootstrap: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", bootstrap);
    config
}

/// Sends `(key, value)` records (a `None` value is a tombstone), each to the partition its key
/// hashes to, and waits for all of them.
pub async fn produce(producer: &FutureProducer, topic: &str, records: &[(String, Option<String>)]) {
    let sends = records.iter().map(|(key, value)| {
        let mut record = FutureRecord::<String, String>::to(topic)
            .key(key)
            .headers(OwnedHeaders::new());
        if let Some(value) = value {
            record = record.payload(value);
        }
        producer.send(record, Duration::from_secs(10))
    });
    for delivery in futures_util::future::join_all(sends).await {
        delivery.map_err(|(e, _)| e).unwrap();
    }
}

/// Polls `condition` every 20 ms until it holds; panics with `what` after `PATIENCE`.
pub async fn wait_until<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + PATIENCE;
    while !condition().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A connect runtime on an ephemeral REST port over the connector files in `dir`.
pub async fn start_connect(bootstrap: &str, dir: &Path) -> ConnectRuntime {
    let config = WorkerConfig {
        kafka: KafkaSettings::new(bootstrap),
        connectors_dir: dir.to_owned(),
        worker_id: "test-worker".to_owned(),
        source_classes: Default::default(),
    };
    ConnectRuntime::start(config, "127.0.0.1:0").await.unwrap()
}

/// Writes a connector file `<name>.json` of flat settings.
pub fn write_connector(dir: &Path, settings: &[(&str, &str)]) {
    let map: BTreeMap<&str, &str> = settings.iter().copied().collect();
    let name = map["name"];
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join(format!("{name}.json")),
        serde_json::to_string(&map).unwrap(),
    )
    .unwrap();
}

pub async fn status(runtime: &ConnectRuntime, name: &str) -> ConnectorStatus {
    runtime.worker().status(name).await.unwrap()
}

/// A PostgreSQL server of its own: `initdb` in a temporary directory, then `postgres` on a
/// free port, trusting local connections. As root, both run as the `postgres` user (the
/// server refuses root), which the Debian package creates.
pub struct TestPostgres {
    dir: PathBuf,
    bin: PathBuf,
    pub port: u16,
    child: Option<Child>,
    owner: Option<(u32, u32)>,
}

impl TestPostgres {
    pub fn start(dir: &Path) -> TestPostgres {
        let bin = postgres_bin();
        let owner = postgres_owner();
        std::fs::create_dir_all(dir).unwrap();
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(dir, Some(uid), Some(gid)).unwrap();
        }
        let mut initdb = Command::new(bin.join("initdb"));
        initdb
            .args(["-D"])
            .arg(dir)
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        as_owner(&mut initdb, owner);
        let output = initdb.output().unwrap();
        assert!(
            output.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let mut server = TestPostgres {
            dir: dir.to_owned(),
            bin,
            port: free_port(),
            child: None,
            owner,
        };
        server.resume();
        server
    }

    /// Starts the server again on the same port and data (after `pause`).
    pub fn resume(&mut self) {
        let mut postgres = Command::new(self.bin.join("postgres"));
        postgres
            .arg("-D")
            .arg(&self.dir)
            .args(["-p", &self.port.to_string(), "-k"])
            .arg(&self.dir)
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
            .args(["-c", "synchronous_commit=off", "-c", "full_page_writes=off"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        as_owner(&mut postgres, self.owner);
        self.child = Some(postgres.spawn().unwrap());
        let deadline = Instant::now() + PATIENCE;
        let ready = || {
            Command::new(self.bin.join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()])
                .status()
                .is_ok_and(|s| s.success())
        };
        while !ready() {
            assert!(Instant::now() < deadline, "PostgreSQL did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server (a fast shutdown: connections are cut).
    pub fn pause(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    pub async fn client(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.url(), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        self.pause();
    }
}

/// A `redis-server` on a free port, persisting nothing.
pub struct TestRedis {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl TestRedis {
    pub fn start(dir: &Path) -> TestRedis {
        std::fs::create_dir_all(dir).unwrap();
        let mut redis = TestRedis {
            port: free_port(),
            dir: dir.to_owned(),
            child: None,
        };
        redis.resume();
        redis
    }

    pub fn resume(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is not installed (Debian package redis-server)");
        self.child = Some(child);
        let deadline = Instant::now() + PATIENCE;
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A random source seeded by the test, so a failure can be replayed (xorshift64*).
pub struct Random(u64);

impl Random {
    pub fn new(seed: u64) -> Random {
        Random(seed.max(1))
    }

    pub fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % bound
    }
}

/// Keyed records to produce; a `None` value is a tombstone.
pub type Records = Vec<(String, Option<String>)>;

/// Random upserts and deletes of `keys` keys: `(key, Some(json) | None)`, one per version
/// (values carry theirs as `version`), and the fold of them (the latest value per key).
pub fn random_changes(
    random: &mut Random,
    versions: std::ops::Range<u64>,
    keys: u64,
) -> (Records, BTreeMap<i64, i64>) {
    let mut records = Vec::new();
    let mut fold = BTreeMap::new();
    for version in versions {
        let id = random.below(keys) as i64;
        let key = serde_json::json!({ "id": id }).to_string();
        if random.below(5) == 0 {
            records.push((key, None));
            fold.remove(&id);
        } else {
            let value = serde_json::json!({"id": id, "version": version as i64, "note": format!("n{version}")});
            records.push((key, Some(value.to_string())));
            fold.insert(id, version as i64);
        }
    }
    (records, fold)
}

/// Deletes a consumer group's committed offsets once its killed members have timed out.
pub async fn forget_group_offsets(bootstrap: &str, group: &str) {
    use rdkafka::types::RDKafkaErrorCode;
    let admin: AdminClient<DefaultClientContext> = client(bootstrap).create().unwrap();
    wait_until("the group is empty and its offsets are deleted", || async {
        let results = admin
            .delete_groups(&[group], &AdminOptions::new())
            .await
            .unwrap();
        match &results[0] {
            Ok(_) => true,
            Err((_, RDKafkaErrorCode::NonEmptyGroup)) => false,
            Err((_, code)) => panic!("cannot delete group {group}: {code}"),
        }
    })
    .await;
}
