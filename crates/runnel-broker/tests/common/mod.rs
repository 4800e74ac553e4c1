//! Helpers shared by the integration tests: an in-process broker on an ephemeral port and
//! rdkafka clients pointed at it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod certificates;

use std::path::Path;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::OwnedMessage;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use runnel_broker::{Broker, BrokerConfig};

/// A request frame: size, header (of the version `api` wants), body.
pub fn frame(
    api: kafka_protocol::messages::ApiKey,
    version: i16,
    correlation_id: i32,
    body: &impl kafka_protocol::protocol::Encodable,
) -> Vec<u8> {
    let mut encoded = bytes::BytesMut::new();
    body.encode(&mut encoded, version).unwrap();
    frame_bytes(api, version, correlation_id, &encoded)
}

/// [`frame`] around a body given as bytes (which may be malformed on purpose).
pub fn frame_bytes(
    api: kafka_protocol::messages::ApiKey,
    version: i16,
    correlation_id: i32,
    body: &[u8],
) -> Vec<u8> {
    use bytes::BufMut;
    use kafka_protocol::protocol::Encodable;
    let mut header = kafka_protocol::messages::RequestHeader::default();
    header.request_api_key = api as i16;
    header.request_api_version = version;
    header.correlation_id = correlation_id;
    header.client_id = Some(kafka_protocol::protocol::StrBytes::from_static_str(
        "runnel-tests",
    ));
    let mut buf = bytes::BytesMut::new();
    buf.put_i32(0);
    header
        .encode(&mut buf, api.request_header_version(version))
        .unwrap();
    buf.extend_from_slice(body);
    let size = (buf.len() - 4) as i32;
    buf[..4].copy_from_slice(&size.to_be_bytes());
    buf.to_vec()
}

/// Sends one request on `stream` and decodes its response (of the same API and version).
pub async fn exchange<R: kafka_protocol::protocol::Decodable>(
    stream: &mut tokio::net::TcpStream,
    api: kafka_protocol::messages::ApiKey,
    version: i16,
    correlation_id: i32,
    body: &impl kafka_protocol::protocol::Encodable,
) -> R {
    use kafka_protocol::protocol::Decodable;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream
        .write_all(&frame(api, version, correlation_id, body))
        .await
        .unwrap();
    let size = tokio::time::timeout(Duration::from_secs(10), stream.read_i32())
        .await
        .expect("a response in time")
        .unwrap();
    let mut buf = vec![0; size as usize];
    stream.read_exact(&mut buf).await.unwrap();
    let mut bytes = bytes::Bytes::from(buf);
    let header = kafka_protocol::messages::ResponseHeader::decode(
        &mut bytes,
        api.response_header_version(version),
    )
    .unwrap();
    assert_eq!(header.correlation_id, correlation_id);
    let response = R::decode(&mut bytes, version).unwrap();
    assert!(bytes.is_empty(), "{api:?} v{version}: bytes left over");
    response
}

/// A raw connection numbering its requests.
#[derive(Debug)]
pub struct Raw {
    stream: tokio::net::TcpStream,
    next: i32,
}

impl Raw {
    pub async fn connect(broker: &runnel_broker::Broker) -> Raw {
        Raw::connect_to(broker.local_addr()).await
    }

    pub async fn connect_to(address: std::net::SocketAddr) -> Raw {
        Raw {
            stream: tokio::net::TcpStream::connect(address).await.unwrap(),
            next: 0,
        }
    }

    pub async fn call<R: kafka_protocol::protocol::Decodable>(
        &mut self,
        api: kafka_protocol::messages::ApiKey,
        version: i16,
        body: &impl kafka_protocol::protocol::Encodable,
    ) -> R {
        self.next += 1;
        exchange(&mut self.stream, api, version, self.next, body).await
    }

    /// Sends a request without waiting for its response.
    pub async fn send(
        &mut self,
        api: kafka_protocol::messages::ApiKey,
        version: i16,
        body: &impl kafka_protocol::protocol::Encodable,
    ) {
        use tokio::io::AsyncWriteExt;
        self.next += 1;
        let frame = frame(api, version, self.next, body);
        self.stream.write_all(&frame).await.unwrap();
    }

    /// Sends bytes as they are, framed or not.
    pub async fn send_bytes(&mut self, bytes: &[u8]) {
        use tokio::io::AsyncWriteExt;
        self.stream.write_all(bytes).await.unwrap();
    }

    /// Whether the broker closes the connection (end of stream or a reset) within 10 s;
    /// whatever it sends before is skipped.
    pub async fn closed_by_broker(&mut self) -> bool {
        use tokio::io::AsyncReadExt;
        let mut buf = [0u8; 256];
        loop {
            match tokio::time::timeout(Duration::from_secs(10), self.stream.read(&mut buf)).await {
                Ok(Ok(0) | Err(_)) => return true,
                Ok(Ok(_)) => continue,
                Err(_) => return false,
            }
        }
    }

    /// Sends a body given as bytes (for versions kafka-protocol does not code) and returns
    /// the response body after its header.
    pub async fn call_bytes(
        &mut self,
        api: kafka_protocol::messages::ApiKey,
        version: i16,
        body: &[u8],
    ) -> bytes::Bytes {
        use kafka_protocol::protocol::Decodable;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        self.next += 1;
        let frame = frame_bytes(api, version, self.next, body);
        self.stream.write_all(&frame).await.unwrap();
        let size = tokio::time::timeout(Duration::from_secs(10), self.stream.read_i32())
            .await
            .expect("a response in time")
            .unwrap();
        let mut buf = vec![0; size as usize];
        self.stream.read_exact(&mut buf).await.unwrap();
        let mut bytes = bytes::Bytes::from(buf);
        let header = kafka_protocol::messages::ResponseHeader::decode(
            &mut bytes,
            api.response_header_version(version),
        )
        .unwrap();
        assert_eq!(header.correlation_id, self.next);
        bytes
    }
}

/// Starts a broker on 127.0.0.1:0 over `dir`, letting the test adjust the settings.
pub async fn start(dir: &Path, tweak: impl FnOnce(&mut BrokerConfig)) -> Broker {
    init_tracing();
    let mut config = BrokerConfig::new(dir, "127.0.0.1:0");
    config.group_initial_rebalance_delay_ms = 0;
    tweak(&mut config);
    Broker::start(config).await.expect("broker starts")
}

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
}

pub fn bootstrap(broker: &Broker) -> String {
    broker.local_addr().to_string()
}

pub fn client_config(broker: &Broker) -> ClientConfig {
    client_config_at(&bootstrap(broker))
}

pub fn producer(broker: &Broker, extra: &[(&str, &str)]) -> FutureProducer {
    producer_at(&bootstrap(broker), extra)
}

/// A consumer without a group, reading the given partitions from `offset`.
pub fn assigned_consumer(
    broker: &Broker,
    topic: &str,
    partitions: &[i32],
    offset: Offset,
    extra: &[(&str, &str)],
) -> StreamConsumer {
    assigned_consumer_at(&bootstrap(broker), topic, partitions, offset, extra)
}

/// Receives until `count` messages arrived or `timeout` passed.
pub async fn consume(
    consumer: &StreamConsumer,
    count: usize,
    timeout: Duration,
) -> Vec<OwnedMessage> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut out = Vec::new();
    while out.len() < count {
        match tokio::time::timeout_at(deadline, consumer.recv()).await {
            Ok(message) => out.push(message.expect("consume without error").detach()),
            Err(_) => break,
        }
    }
    out
}

/// Waits (without sleeping blindly) until `condition` holds, panicking after `timeout`.
pub async fn eventually(what: &str, timeout: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A client config pointed at a broker given by its `HOST:PORT` (e.g. one in another process).
pub fn client_config_at(bootstrap: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("broker.address.family", "v4")
        .set("log_level", "4");
    config
}

/// [`producer`] for a broker given by its address.
pub fn producer_at(bootstrap: &str, extra: &[(&str, &str)]) -> FutureProducer {
    let mut config = client_config_at(bootstrap);
    config
        .set("message.timeout.ms", "20000")
        .set("linger.ms", "0");
    for (k, v) in extra {
        config.set(*k, *v);
    }
    config.create().expect("producer")
}

/// [`assigned_consumer`] for a broker given by its address.
pub fn assigned_consumer_at(
    bootstrap: &str,
    topic: &str,
    partitions: &[i32],
    offset: Offset,
    extra: &[(&str, &str)],
) -> StreamConsumer {
    let mut config = client_config_at(bootstrap);
    config
        // librdkafka wants a group id even for manual assignment; nothing is committed.
        .set("group.id", "runnel-tests-assign")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false");
    for (k, v) in extra {
        config.set(*k, *v);
    }
    let consumer: StreamConsumer = config.create().expect("consumer");
    let mut list = TopicPartitionList::new();
    for &p in partitions {
        list.add_partition_offset(topic, p, offset).unwrap();
    }
    consumer.assign(&list).unwrap();
    consumer
}

/// Creates a topic through the admin API of the broker at `bootstrap`.
pub async fn create_topic_at(bootstrap: &str, name: &str, partitions: i32) {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::client::DefaultClientContext;
    let admin: AdminClient<DefaultClientContext> = client_config_at(bootstrap).create().unwrap();
    let created = admin
        .create_topics(
            &[NewTopic::new(name, partitions, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
        )
        .await
        .unwrap();
    assert!(created[0].is_ok(), "{created:?}");
}

/// The payload [`produce_numbered`] gives the record at `offset` of `partition`.
pub fn numbered(partition: i32, offset: i64) -> String {
    format!("p{partition}-o{offset}")
}

/// Produces records `offsets` (acks=all) to every partition of a topic that holds exactly
/// `offsets.start` records per partition, and asserts each landed at its number.
pub async fn produce_numbered(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    offsets: std::ops::Range<i64>,
) {
    let producer = producer_at(bootstrap, &[("acks", "all")]);
    let mut deliveries = Vec::new();
    for p in 0..partitions {
        for o in offsets.clone() {
            let payload = numbered(p, o);
            let future = producer
                .send_result(
                    FutureRecord::to(topic)
                        .partition(p)
                        .key("k")
                        .payload(&payload),
                )
                .map_err(|(e, _)| e)
                .expect("enqueued");
            deliveries.push((p, o, future));
        }
    }
    for (p, o, future) in deliveries {
        let delivery = future.await.expect("not cancelled").expect("delivered");
        assert_eq!((delivery.partition, delivery.offset), (p, o));
    }
}

/// Tests whose broker or clients run in another process, so that the process can be killed
/// with SIGKILL (`std::process::Child::kill`). The test binary re-executes itself, running a
/// single *entry* test: a `#[test]` that does nothing in a normal run and, when the
/// environment asks for it, takes its role (for a broker: [`process::serve_if_asked`]) and
/// never returns.
pub mod process {
    use std::ffi::OsString;
    use std::io::Read;
    use std::path::{Path, PathBuf};
    use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    use runnel_broker::{Broker, BrokerConfig};

    /// Set in a broker child: its data directory.
    pub const SERVE_DIR_ENV: &str = "RUNNEL_TEST_SERVE_DIR";
    /// Set in a broker child: where it writes its bound port once it accepts connections.
    pub const PORT_FILE_ENV: &str = "RUNNEL_TEST_PORT_FILE";
    /// Set in a broker child: `name=value` broker settings separated by newlines.
    pub const SETTINGS_ENV: &str = "RUNNEL_TEST_BROKER_SETTINGS";

    /// How long a child may take to come up.
    const START_TIMEOUT: Duration = Duration::from_secs(30);

    static SPAWNED: AtomicUsize = AtomicUsize::new(0);
    static PORT_FILES: AtomicUsize = AtomicUsize::new(0);

    /// A child process running one entry test of this test binary. Dropping it kills it.
    #[derive(Debug)]
    pub struct ChildProcess {
        child: Child,
        log: PathBuf,
        entry: String,
    }

    impl ChildProcess {
        /// Re-executes this test binary to run only the test `entry`, with `envs` added to
        /// the environment. Its stdout is piped when `capture_stdout` (see
        /// [`ChildProcess::take_stdout`]), otherwise it goes with stderr to a log file in
        /// `run_dir`. Its stdin is a pipe that the child may watch ([`exit_with_parent`]) to
        /// end itself when the test process is gone.
        pub fn spawn(
            entry: &str,
            envs: &[(&str, OsString)],
            run_dir: &Path,
            capture_stdout: bool,
        ) -> ChildProcess {
            let n = SPAWNED.fetch_add(1, Ordering::Relaxed);
            let log = run_dir.join(format!("{entry}-{n}.log"));
            let log_file = std::fs::File::create(&log).expect("child log file");
            let stdout = if capture_stdout {
                Stdio::piped()
            } else {
                Stdio::from(log_file.try_clone().expect("child log file"))
            };
            let mut command =
                Command::new(std::env::current_exe().expect("the test binary's path"));
            command
                .args([entry, "--exact", "--nocapture", "--test-threads=1"])
                .stdin(Stdio::piped())
                .stdout(stdout)
                .stderr(Stdio::from(log_file));
            for (name, value) in envs {
                command.env(name, value);
            }
            let child = command.spawn().expect("spawn child process");
            ChildProcess {
                child,
                log,
                entry: entry.to_owned(),
            }
        }

        pub fn id(&self) -> u32 {
            self.child.id()
        }

        /// The child's stdout, when spawned with `capture_stdout`.
        pub fn take_stdout(&mut self) -> Option<ChildStdout> {
            self.child.stdout.take()
        }

        /// What the child wrote to its log so far (for failure messages).
        pub fn log(&self) -> String {
            std::fs::read_to_string(&self.log).unwrap_or_default()
        }

        /// The exit status, if the child has exited.
        pub fn exited(&mut self) -> Option<ExitStatus> {
            self.child.try_wait().expect("try_wait")
        }

        /// SIGKILL, then reap: once this returns the process is gone and its locks with it.
        /// Panics if the child had already exited: a kill is only meaningful mid-run.
        pub fn kill(&mut self) {
            if let Some(status) = self.exited() {
                panic!(
                    "{} exited by itself ({status}) before the kill; its log:\n{}",
                    self.entry,
                    self.log()
                );
            }
            self.child.kill().expect("SIGKILL the child");
            self.child.wait().expect("reap the killed child");
        }
    }

    impl Drop for ChildProcess {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// In a child: exits the process when stdin reaches end of file, which happens when the
    /// parent test process is gone (however it ended), so no child outlives its test.
    pub fn exit_with_parent() {
        std::thread::spawn(|| {
            let mut sink = [0u8; 64];
            let mut stdin = std::io::stdin();
            while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
            std::process::exit(3);
        });
    }

    /// A broker in a child process, started on an ephemeral port.
    #[derive(Debug)]
    pub struct BrokerProcess {
        process: ChildProcess,
        port: u16,
    }

    impl BrokerProcess {
        /// Starts a broker child over `data_dir` (through the entry test `entry`, which must
        /// call [`serve_if_asked`]) and waits, bounded, until it listens. `settings` are
        /// broker settings by Kafka name.
        pub async fn start(
            entry: &str,
            data_dir: &Path,
            run_dir: &Path,
            settings: &[(&str, &str)],
        ) -> BrokerProcess {
            let n = PORT_FILES.fetch_add(1, Ordering::Relaxed);
            let port_file = run_dir.join(format!("port-{n}-{}", std::process::id()));
            let _ = std::fs::remove_file(&port_file);
            let settings: String = settings.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
            let mut process = ChildProcess::spawn(
                entry,
                &[
                    (SERVE_DIR_ENV, data_dir.as_os_str().to_owned()),
                    (PORT_FILE_ENV, port_file.as_os_str().to_owned()),
                    (SETTINGS_ENV, settings.into()),
                ],
                run_dir,
                false,
            );
            let deadline = Instant::now() + START_TIMEOUT;
            let port = loop {
                if let Ok(text) = std::fs::read_to_string(&port_file) {
                    break text.trim().parse::<u16>().expect("a port number");
                }
                if let Some(status) = process.exited() {
                    panic!(
                        "broker child exited ({status}); its log:\n{}",
                        process.log()
                    );
                }
                assert!(
                    Instant::now() < deadline,
                    "broker child did not start in {START_TIMEOUT:?}; its log:\n{}",
                    process.log()
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            };
            BrokerProcess { process, port }
        }

        pub fn bootstrap(&self) -> String {
            format!("127.0.0.1:{}", self.port)
        }

        pub fn pid(&self) -> u32 {
            self.process.id()
        }

        /// SIGKILL: no shutdown, no flush, no clean-shutdown marker.
        pub fn kill(mut self) {
            self.process.kill();
        }

        pub fn log(&self) -> String {
            self.process.log()
        }
    }

    /// The body of a broker entry test: when this process was started by
    /// [`BrokerProcess::start`], serves until killed (never returns); otherwise returns.
    pub fn serve_if_asked() {
        let Some(data_dir) = std::env::var_os(SERVE_DIR_ENV) else {
            return;
        };
        exit_with_parent();
        let port_file = PathBuf::from(std::env::var_os(PORT_FILE_ENV).expect("port file"));
        let mut config = BrokerConfig::new(PathBuf::from(data_dir), "127.0.0.1:0");
        config.group_initial_rebalance_delay_ms = 0;
        let settings = std::env::var(SETTINGS_ENV).unwrap_or_default();
        for line in settings.lines().filter(|l| !l.is_empty()) {
            let (name, value) = line.split_once('=').expect("name=value");
            config.set(name, value).expect("a valid broker setting");
        }
        super::init_tracing();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let broker = Broker::start(config).await.expect("broker starts");
            // Written then renamed, so the parent never reads half a number.
            let tmp = port_file.with_extension("tmp");
            std::fs::write(&tmp, broker.local_addr().port().to_string()).expect("port file");
            std::fs::rename(&tmp, &port_file).expect("port file");
            std::future::pending::<()>().await;
        });
    }
}

/// Group members whose rebalance callbacks are recorded, and a task that keeps each one
/// receiving (receiving is also what runs its rebalance callbacks).
pub mod members {
    use std::collections::BTreeSet;
    use std::sync::{Arc, Mutex};

    use rdkafka::client::ClientContext;
    use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance, StreamConsumer};
    use rdkafka::Message;
    use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
    use tokio::task::JoinHandle;

    /// One rebalance callback as the member saw it (partition numbers; tests use one topic).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum RebalanceEvent {
        Assigned(BTreeSet<i32>),
        Revoked(BTreeSet<i32>),
        Failed(String),
    }

    /// A consumer context recording every rebalance, and when it happened.
    #[derive(Debug, Default)]
    pub struct RebalanceRecorder {
        events: Mutex<Vec<RebalanceEvent>>,
        times: Mutex<Vec<std::time::Instant>>,
    }

    impl RebalanceRecorder {
        pub fn events(&self) -> Vec<RebalanceEvent> {
            self.events.lock().unwrap().clone()
        }

        /// Every event with the time its callback ran.
        pub fn timed_events(&self) -> Vec<(std::time::Instant, RebalanceEvent)> {
            let events = self.events.lock().unwrap();
            let times = self.times.lock().unwrap();
            times.iter().copied().zip(events.iter().cloned()).collect()
        }

        /// The assignment the recorded callbacks add up to. librdkafka applies an
        /// assignment before the callback that reports it returns, so a consumer's
        /// `assignment()` can run ahead of this for a moment.
        pub fn recorded_assignment(&self) -> BTreeSet<i32> {
            let mut held = BTreeSet::new();
            for event in self.events() {
                match event {
                    RebalanceEvent::Assigned(p) => held.extend(p),
                    RebalanceEvent::Revoked(p) => held.retain(|x| !p.contains(x)),
                    RebalanceEvent::Failed(_) => {}
                }
            }
            held
        }

        /// Partitions revoked by the callbacks from event `from` on.
        pub fn revoked_since(&self, from: usize) -> BTreeSet<i32> {
            self.events()
                .into_iter()
                .skip(from)
                .filter_map(|e| match e {
                    RebalanceEvent::Revoked(p) => Some(p),
                    _ => None,
                })
                .flatten()
                .collect()
        }

        /// Partitions assigned by the callbacks from event `from` on.
        pub fn assigned_since(&self, from: usize) -> BTreeSet<i32> {
            self.events()
                .into_iter()
                .skip(from)
                .filter_map(|e| match e {
                    RebalanceEvent::Assigned(p) => Some(p),
                    _ => None,
                })
                .flatten()
                .collect()
        }
    }

    impl ClientContext for RebalanceRecorder {}

    impl ConsumerContext for RebalanceRecorder {
        fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
            let partitions = |list: &rdkafka::TopicPartitionList| {
                list.elements().iter().map(|e| e.partition()).collect()
            };
            let event = match rebalance {
                Rebalance::Assign(list) => RebalanceEvent::Assigned(partitions(list)),
                Rebalance::Revoke(list) => RebalanceEvent::Revoked(partitions(list)),
                Rebalance::Error(e) => RebalanceEvent::Failed(e.to_string()),
            };
            let mut events = self.events.lock().unwrap();
            self.times.lock().unwrap().push(std::time::Instant::now());
            events.push(event);
        }
    }

    pub type GroupMember = StreamConsumer<RebalanceRecorder>;

    /// A member of `group` (not yet subscribed): no auto-commit, reads from the earliest
    /// offset when nothing is committed, 10 s session, 300 ms heartbeats; `extra` overrides.
    pub fn group_member_at(
        bootstrap: &str,
        group: &str,
        extra: &[(&str, &str)],
    ) -> Arc<GroupMember> {
        let timing = [
            ("session.timeout.ms", "10000"),
            ("heartbeat.interval.ms", "300"),
        ];
        member_at(bootstrap, group, &timing, extra)
    }

    /// A member of `group` speaking the consumer group protocol (KIP-848): the broker
    /// assigns, with the assignor `group.remote.assignor` in `extra` names (default:
    /// the broker's). Session and heartbeat timing are the broker's too.
    pub fn consumer_protocol_member_at(
        bootstrap: &str,
        group: &str,
        extra: &[(&str, &str)],
    ) -> Arc<GroupMember> {
        member_at(bootstrap, group, &[("group.protocol", "consumer")], extra)
    }

    /// No auto-commit, earliest offset when nothing is committed, no EOF events; then
    /// `protocol` settings, then `extra`.
    fn member_at(
        bootstrap: &str,
        group: &str,
        protocol: &[(&str, &str)],
        extra: &[(&str, &str)],
    ) -> Arc<GroupMember> {
        let mut config = super::client_config_at(bootstrap);
        config
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "false");
        for (k, v) in protocol.iter().chain(extra) {
            config.set(*k, *v);
        }
        Arc::new(
            config
                .create_with_context(RebalanceRecorder::default())
                .expect("group member"),
        )
    }

    /// Partitions `0..n`.
    pub fn all_partitions(n: i32) -> BTreeSet<i32> {
        (0..n).collect()
    }

    /// Whether `records` include every offset of `range` of each partition in `partitions`.
    pub fn covers(
        records: &[Received],
        partitions: &BTreeSet<i32>,
        range: std::ops::Range<i64>,
    ) -> bool {
        let seen: BTreeSet<(i32, i64)> = records.iter().map(|r| (r.partition, r.offset)).collect();
        partitions
            .iter()
            .all(|&p| range.clone().all(|o| seen.contains(&(p, o))))
    }

    /// Whether a member's callbacks have reported the assignment it holds.
    pub fn callbacks_caught_up(member: &GroupMember) -> bool {
        member.context().recorded_assignment() == assignment_of(member)
    }

    /// Waits until the members hold disjoint sets of the given sizes covering every
    /// partition, and their callbacks have reported it.
    pub async fn wait_for_split(members: &[Arc<GroupMember>], sizes: &[usize], partitions: i32) {
        let members: Vec<_> = members.to_vec();
        let sizes = sizes.to_vec();
        super::eventually(
            &format!("the members to hold {sizes:?} partitions"),
            std::time::Duration::from_secs(30),
            move || {
                let sets: Vec<_> = members.iter().map(|m| assignment_of(m)).collect();
                let union: BTreeSet<i32> = sets.iter().flatten().copied().collect();
                sets.iter().map(BTreeSet::len).collect::<Vec<_>>() == sizes
                    && union == all_partitions(partitions)
                    && members.iter().all(|m| callbacks_caught_up(m))
            },
        )
        .await;
    }

    /// The partitions a consumer holds right now.
    pub fn assignment_of<C: ConsumerContext + 'static>(
        consumer: &StreamConsumer<C>,
    ) -> BTreeSet<i32> {
        consumer
            .assignment()
            .map(|a| a.elements().iter().map(|e| e.partition()).collect())
            .unwrap_or_default()
    }

    /// Stops the receiving tasks, then closes the members (each leaves its group), so
    /// nothing is left talking to a broker that is about to stop.
    pub async fn close(members: Vec<Arc<GroupMember>>, tasks: Vec<JoinHandle<()>>) {
        for task in tasks {
            task.abort();
            let _ = task.await;
        }
        tokio::task::spawn_blocking(move || drop(members))
            .await
            .expect("members close");
    }

    const INBOX_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

    /// Everything the members received, in arrival order.
    #[derive(Debug)]
    pub struct Inbox {
        rx: UnboundedReceiver<Received>,
        pub all: Vec<Received>,
    }

    impl Inbox {
        pub fn new() -> (mpsc::UnboundedSender<Received>, Inbox) {
            let (tx, rx) = mpsc::unbounded_channel();
            (
                tx,
                Inbox {
                    rx,
                    all: Vec::new(),
                },
            )
        }

        /// Receives until `done(everything received)` holds, failing after `INBOX_WAIT`.
        pub async fn until(&mut self, what: &str, done: impl Fn(&[Received]) -> bool) {
            let deadline = tokio::time::Instant::now() + INBOX_WAIT;
            while !done(&self.all) {
                match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                    Ok(Some(r)) => self.all.push(r),
                    Ok(None) => panic!("every member stopped while waiting for {what}"),
                    Err(_) => panic!(
                        "timed out waiting for {what}; received {} records",
                        self.all.len()
                    ),
                }
            }
        }
    }

    /// A record as one member received it.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Received {
        pub member: usize,
        pub partition: i32,
        pub offset: i64,
        pub key: Option<String>,
        pub payload: String,
    }

    /// Keeps `consumer` receiving, sending every record to `tx` tagged with `member`, until
    /// aborted or the receiver is gone.
    pub fn drive<C: ConsumerContext + 'static>(
        member: usize,
        consumer: Arc<StreamConsumer<C>>,
        tx: UnboundedSender<Received>,
    ) -> JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                match consumer.recv().await {
                    Ok(m) => {
                        let received = Received {
                            member,
                            partition: m.partition(),
                            offset: m.offset(),
                            key: m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
                            payload: String::from_utf8_lossy(m.payload().unwrap_or_default())
                                .into_owned(),
                        };
                        if tx.send(received).is_err() {
                            break;
                        }
                    }
                    // Transient client-side errors (e.g. during a rebalance) are reported by
                    // librdkafka through the same call; the assertions judge the outcome.
                    Err(e) => {
                        eprintln!("member {member}: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    }
                }
            }
        })
    }
}
