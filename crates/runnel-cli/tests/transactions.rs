//! `runnel transactions` against a scripted broker on a loopback socket: version
//! negotiation, the coordinator lookup in both of its layouts, retries, error codes and the
//! response size limit, each checked on the bytes a Kafka broker would send.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::describe_transactions_response::{self, TopicData};
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::list_transactions_response;
use kafka_protocol::messages::metadata_response::MetadataResponseBroker;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, BrokerId, DescribeTransactionsRequest,
    DescribeTransactionsResponse, FindCoordinatorRequest, FindCoordinatorResponse,
    ListTransactionsRequest, ListTransactionsResponse, MetadataRequest, MetadataResponse,
    ProducerId, RequestHeader, ResponseHeader, TopicName, TransactionalId,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use runnel_cli::transactions::{self, TransactionsArgs, TransactionsCommand};
use runnel_cli::{CliError, Connection};

/// What the scripted broker advertises and how it misbehaves.
#[derive(Debug, Clone)]
struct Script {
    versions: Vec<(ApiKey, i16, i16)>,
    /// FindCoordinator answers COORDINATOR_NOT_AVAILABLE this many times first.
    unavailable: usize,
    /// ListTransactions is answered with a frame claiming 200 MB.
    oversized: bool,
}

impl Script {
    fn kafka() -> Script {
        Script {
            versions: vec![
                (ApiKey::Metadata, 0, 12),
                (ApiKey::FindCoordinator, 0, 6),
                (ApiKey::ApiVersions, 0, 3),
                (ApiKey::DescribeTransactions, 0, 0),
                (ApiKey::ListTransactions, 0, 2),
            ],
            unavailable: 0,
            oversized: false,
        }
    }

    fn with_max(mut self, api: ApiKey, max: Option<i16>) -> Script {
        self.versions.retain(|(key, _, _)| *key != api);
        if let Some(max) = max {
            self.versions.push((api, 0, max));
        }
        self
    }
}

#[derive(Debug, Default)]
struct Seen {
    requests: Vec<(ApiKey, i16)>,
    state_filters: Vec<String>,
    producer_id_filters: Vec<i64>,
}

struct FakeBroker {
    address: String,
    seen: Arc<Mutex<Seen>>,
}

impl FakeBroker {
    fn start(script: Script) -> FakeBroker {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let script = Arc::new(Mutex::new(script));
        let (advertised, recorder) = (address.clone(), Arc::clone(&seen));
        thread::spawn(move || {
            for stream in listener.incoming() {
                let (script, seen, address) = (
                    Arc::clone(&script),
                    Arc::clone(&recorder),
                    advertised.clone(),
                );
                thread::spawn(move || serve(stream.unwrap(), &address, &script, &seen));
            }
        });
        FakeBroker { address, seen }
    }

    fn run(&self, command: TransactionsCommand) -> Result<String, CliError> {
        let args = TransactionsArgs {
            connection: Connection::new(&self.address),
            command,
        };
        let mut out = Vec::new();
        transactions::run(&args, &mut out)?;
        Ok(String::from_utf8(out).unwrap())
    }

    fn versions_used(&self, api: ApiKey) -> Vec<i16> {
        let seen = self.seen.lock().unwrap();
        seen.requests
            .iter()
            .filter(|(key, _)| *key == api)
            .map(|(_, version)| *version)
            .collect()
    }
}

fn text(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

/// Answers requests on one connection until the client hangs up.
fn serve(mut stream: TcpStream, address: &str, script: &Mutex<Script>, seen: &Mutex<Seen>) {
    loop {
        let mut size = [0u8; 4];
        if stream.read_exact(&mut size).is_err() {
            return;
        }
        let mut frame = vec![0u8; i32::from_be_bytes(size) as usize];
        stream.read_exact(&mut frame).unwrap();
        let mut body = Bytes::from(frame);
        let api = ApiKey::try_from(i16::from_be_bytes([body[0], body[1]])).unwrap();
        let version = i16::from_be_bytes([body[2], body[3]]);
        let header = RequestHeader::decode(&mut body, api.request_header_version(version)).unwrap();
        seen.lock().unwrap().requests.push((api, version));

        let mut out = BytesMut::new();
        ResponseHeader::default()
            .with_correlation_id(header.correlation_id)
            .encode(&mut out, api.response_header_version(version))
            .unwrap();
        let mut script = script.lock().unwrap();
        match api {
            ApiKey::ApiVersions => ApiVersionsResponse::default()
                .with_api_keys(
                    script
                        .versions
                        .iter()
                        .map(|(key, min, max)| {
                            ApiVersion::default()
                                .with_api_key(*key as i16)
                                .with_min_version(*min)
                                .with_max_version(*max)
                        })
                        .collect(),
                )
                .encode(&mut out, version),
            ApiKey::Metadata => {
                let request = MetadataRequest::decode(&mut body, version).unwrap();
                assert_eq!(request.topics, Some(Vec::new()), "no topic asked for");
                let (host, port) = address.rsplit_once(':').unwrap();
                MetadataResponse::default()
                    .with_brokers(vec![MetadataResponseBroker::default()
                        .with_node_id(BrokerId(0))
                        .with_host(text(host))
                        .with_port(port.parse().unwrap())])
                    .encode(&mut out, version)
            }
            ApiKey::FindCoordinator => {
                let request = FindCoordinatorRequest::decode(&mut body, version).unwrap();
                assert_eq!(request.key_type, 1, "a transaction coordinator");
                let (host, port) = address.rsplit_once(':').unwrap();
                let error_code = if script.unavailable > 0 {
                    script.unavailable -= 1;
                    15
                } else {
                    0
                };
                let response = if version >= 4 {
                    assert_eq!(request.coordinator_keys.len(), 1);
                    FindCoordinatorResponse::default().with_coordinators(vec![
                        Coordinator::default()
                            .with_key(request.coordinator_keys[0].clone())
                            .with_node_id(BrokerId(0))
                            .with_host(text(host))
                            .with_port(port.parse().unwrap())
                            .with_error_code(error_code),
                    ])
                } else {
                    assert!(!request.key.is_empty());
                    FindCoordinatorResponse::default()
                        .with_node_id(BrokerId(0))
                        .with_host(text(host))
                        .with_port(port.parse().unwrap())
                        .with_error_code(error_code)
                };
                response.encode(&mut out, version)
            }
            ApiKey::ListTransactions if script.oversized => {
                stream.write_all(&200_000_000i32.to_be_bytes()).unwrap();
                return;
            }
            ApiKey::ListTransactions => {
                let request = ListTransactionsRequest::decode(&mut body, version).unwrap();
                let mut seen = seen.lock().unwrap();
                seen.state_filters = request
                    .state_filters
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                seen.producer_id_filters =
                    request.producer_id_filters.iter().map(|p| p.0).collect();
                let known = ["Ongoing", "CompleteCommit"];
                ListTransactionsResponse::default()
                    .with_unknown_state_filters(
                        request
                            .state_filters
                            .into_iter()
                            .filter(|s| !known.contains(&s.as_str()))
                            .collect(),
                    )
                    .with_transaction_states(vec![
                        list_transactions_response::TransactionState::default()
                            .with_transactional_id(TransactionalId(text("tx")))
                            .with_producer_id(ProducerId(1000))
                            .with_transaction_state(text("Ongoing")),
                        list_transactions_response::TransactionState::default()
                            .with_transactional_id(TransactionalId(text("earlier")))
                            .with_producer_id(ProducerId(999))
                            .with_transaction_state(text("CompleteCommit")),
                    ])
                    .encode(&mut out, version)
            }
            ApiKey::DescribeTransactions => {
                let request = DescribeTransactionsRequest::decode(&mut body, version).unwrap();
                let states = request
                    .transactional_ids
                    .into_iter()
                    .map(|id| {
                        let state = describe_transactions_response::TransactionState::default()
                            .with_transactional_id(id.clone());
                        if id.0.as_str() != "tx" {
                            return state.with_error_code(105);
                        }
                        state
                            .with_transaction_state(text("Ongoing"))
                            .with_transaction_timeout_ms(60_000)
                            .with_transaction_start_time_ms(1_700_000_000_000)
                            .with_producer_id(ProducerId(1000))
                            .with_producer_epoch(2)
                            .with_topics(vec![TopicData::default()
                                .with_topic(TopicName(text("orders")))
                                .with_partitions(vec![1, 0])])
                    })
                    .collect();
                DescribeTransactionsResponse::default()
                    .with_transaction_states(states)
                    .encode(&mut out, version)
            }
            other => panic!("unexpected request {other:?}"),
        }
        .unwrap();
        drop(script);
        stream.write_all(&(out.len() as i32).to_be_bytes()).unwrap();
        stream.write_all(&out).unwrap();
    }
}

fn list(states: &[&str], producer_ids: &[i64]) -> TransactionsCommand {
    TransactionsCommand::List {
        states: states.iter().map(|s| (*s).to_owned()).collect(),
        producer_ids: producer_ids.to_vec(),
    }
}

fn describe(id: &str) -> TransactionsCommand {
    TransactionsCommand::Describe {
        transactional_id: id.to_owned(),
    }
}

#[test]
fn list_uses_the_highest_common_version_and_passes_the_filters() {
    let broker = FakeBroker::start(Script::kafka());
    let printed = broker.run(list(&["Ongoing"], &[1000, 7])).unwrap();
    assert_eq!(
        printed,
        "TRANSACTIONAL-ID  PRODUCER-ID  STATE\n\
         earlier           999          CompleteCommit\n\
         tx                1000         Ongoing\n"
    );
    assert_eq!(broker.versions_used(ApiKey::ListTransactions), [1]);
    assert_eq!(broker.versions_used(ApiKey::Metadata), [12]);
    let seen = broker.seen.lock().unwrap();
    assert_eq!(seen.state_filters, ["Ongoing"]);
    assert_eq!(seen.producer_id_filters, [1000, 7]);
    drop(seen);

    let older = FakeBroker::start(Script::kafka().with_max(ApiKey::ListTransactions, Some(0)));
    older.run(list(&[], &[])).unwrap();
    assert_eq!(older.versions_used(ApiKey::ListTransactions), [0]);
}

#[test]
fn describe_finds_the_coordinator_in_either_layout() {
    for (find_max, used) in [(6, 6), (4, 4), (3, 3)] {
        let broker =
            FakeBroker::start(Script::kafka().with_max(ApiKey::FindCoordinator, Some(find_max)));
        let printed = broker.run(describe("tx")).unwrap();
        assert_eq!(
            printed,
            "TransactionalId:  tx\n\
             Coordinator:      0\n\
             ProducerId:       1000\n\
             ProducerEpoch:    2\n\
             State:            Ongoing\n\
             TimeoutMs:        60000\n\
             StartTimeMs:      1700000000000\n\
             \n\
             TOPIC   PARTITION\n\
             orders  0\n\
             orders  1\n"
        );
        assert_eq!(broker.versions_used(ApiKey::FindCoordinator), [used]);
        assert_eq!(broker.versions_used(ApiKey::DescribeTransactions), [0]);
    }
}

#[test]
fn an_unavailable_coordinator_is_asked_again() {
    let mut script = Script::kafka();
    script.unavailable = 2;
    let broker = FakeBroker::start(script);
    assert!(broker
        .run(describe("tx"))
        .unwrap()
        .contains("State:            Ongoing"));
    assert_eq!(broker.versions_used(ApiKey::FindCoordinator), [6, 6, 6]);
}

#[test]
fn failures_are_readable() {
    let broker = FakeBroker::start(Script::kafka());
    assert_eq!(
        broker.run(describe("nobody")).unwrap_err().to_string(),
        "transactional id 'nobody' not found"
    );
    assert_eq!(
        broker
            .run(list(&["Ongoing", "Sideways"], &[]))
            .unwrap_err()
            .to_string(),
        "bad arguments: --state Sideways: the broker knows no such transaction state"
    );

    let without = FakeBroker::start(Script::kafka().with_max(ApiKey::ListTransactions, None));
    assert_eq!(
        without.run(list(&[], &[])).unwrap_err().to_string(),
        format!(
            "cannot list transactions at {}: the broker does not support ListTransactions \
             (API key 66) in versions 0..1",
            without.address
        )
    );

    let mut script = Script::kafka();
    script.oversized = true;
    let oversized = FakeBroker::start(script);
    assert_eq!(
        oversized.run(list(&[], &[])).unwrap_err().to_string(),
        format!(
            "cannot list transactions at {}: a response of 200000000 bytes is over the limit \
             of 104857600 bytes",
            oversized.address
        )
    );
}
