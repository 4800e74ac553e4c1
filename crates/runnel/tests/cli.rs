//! The `runnel` binary's client commands against an in-process broker on an ephemeral port:
//! every test runs the real executable and checks its output and exit status.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use runnel_broker::{Broker, BrokerConfig};

/// Longest any command may take; a hung command fails the test instead of hanging it.
const DEADLINE: Duration = Duration::from_secs(30);

struct Run {
    status: std::process::ExitStatus,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl Run {
    fn ok(self) -> String {
        assert!(
            self.status.success(),
            "exit {:?}, stderr: {}",
            self.status,
            self.stderr
        );
        self.stdout
    }

    /// The command failed with one line on stderr, starting `runnel:`; returns that line.
    fn failed(self) -> String {
        assert!(!self.status.success(), "succeeded: {}", self.stdout);
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "stderr: {}", self.stderr);
        assert!(lines[0].starts_with("runnel: "), "stderr: {}", self.stderr);
        lines[0].to_owned()
    }
}

/// Runs `runnel ARGS` with `input` on stdin, killing it after `DEADLINE`.
fn runnel(args: &[&str], input: &str) -> Run {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_runnel"))
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runnel starts");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_owned();
    let writer = thread::spawn(move || {
        // A command that does not read its input closes the pipe; that is fine.
        let _ = stdin.write_all(input.as_bytes());
    });
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).unwrap();
        text
    });
    let err = thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).unwrap();
        text
    });
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            panic!("runnel {args:?} still running after {DEADLINE:?}");
        }
        thread::sleep(Duration::from_millis(5));
    };
    writer.join().unwrap();
    Run {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
        elapsed: started.elapsed(),
    }
}

/// A broker on 127.0.0.1:0 over a temporary directory, served by its own runtime while the
/// test thread runs commands.
struct Cluster {
    runtime: tokio::runtime::Runtime,
    broker: Option<Broker>,
    bootstrap: String,
    _dir: tempfile::TempDir,
}

impl Cluster {
    fn start() -> Cluster {
        Cluster::start_with(|_| {})
    }

    /// A broker whose settings the test adjusts.
    fn start_with(tweak: impl FnOnce(&mut BrokerConfig)) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let mut config = BrokerConfig::new(dir.path(), "127.0.0.1:0");
        config.group_initial_rebalance_delay_ms = 0;
        tweak(&mut config);
        let broker = runtime
            .block_on(Broker::start(config))
            .expect("broker starts");
        Cluster {
            bootstrap: broker.local_addr().to_string(),
            runtime,
            broker: Some(broker),
            _dir: dir,
        }
    }

    /// Runs `runnel` with `-b` pointing at this broker.
    fn run(&self, args: &[&str], input: &str) -> Run {
        let mut all = args.to_vec();
        all.extend(["-b", &self.bootstrap]);
        runnel(&all, input)
    }

    fn ok(&self, args: &[&str]) -> String {
        self.run(args, "").ok()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(broker) = self.broker.take() {
            let _ = self.runtime.block_on(broker.shutdown());
        }
    }
}

/// The whitespace-separated cells of the line of `table` whose first cells are `first`.
fn row(table: &str, first: &[&str]) -> Vec<String> {
    table
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .find(|cells| cells.len() >= first.len() && cells[..first.len()] == *first)
        .unwrap_or_else(|| panic!("no row {first:?} in:\n{table}"))
        .into_iter()
        .map(str::to_owned)
        .collect()
}

#[test]
fn topics_are_created_listed_described_altered_and_deleted() {
    let cluster = Cluster::start();
    assert_eq!(
        cluster.ok(&[
            "topic",
            "create",
            "orders",
            "--partitions",
            "3",
            "--config",
            "retention.ms=123456"
        ]),
        "created topic orders\n"
    );
    cluster.ok(&["topic", "create", "audit"]);
    let again = cluster.run(&["topic", "create", "orders"], "").failed();
    assert!(again.contains("already exists"), "{again}");
    assert_eq!(cluster.ok(&["topic", "list"]), "audit\norders\n");

    let described = cluster.ok(&["topic", "describe", "orders"]);
    assert!(
        described.starts_with("Topic:       orders\nPartitions:  3\n"),
        "{described}"
    );
    assert_eq!(
        row(&described, &["PARTITION"]),
        ["PARTITION", "LEADER", "LOG-START", "LOG-END"]
    );
    for partition in ["0", "1", "2"] {
        assert_eq!(row(&described, &[partition]), [partition, "0", "0", "0"]);
    }
    assert_eq!(
        row(&described, &["retention.ms"]),
        ["retention.ms", "123456", "override"]
    );
    assert_eq!(
        row(&described, &["cleanup.policy"]),
        ["cleanup.policy", "delete", "default"]
    );

    // Altering one setting keeps the other overrides.
    assert_eq!(
        cluster.ok(&["topic", "alter", "orders", "--config", "segment.ms=60000"]),
        "altered topic orders\n"
    );
    let described = cluster.ok(&["topic", "describe", "orders"]);
    assert_eq!(
        row(&described, &["segment.ms"]),
        ["segment.ms", "60000", "override"]
    );
    assert_eq!(
        row(&described, &["retention.ms"]),
        ["retention.ms", "123456", "override"]
    );
    cluster.ok(&[
        "topic",
        "alter",
        "orders",
        "--delete-config",
        "retention.ms",
    ]);
    let described = cluster.ok(&["topic", "describe", "orders"]);
    assert_eq!(
        row(&described, &["retention.ms"]),
        ["retention.ms", "604800000", "default"]
    );
    assert_eq!(
        row(&described, &["segment.ms"]),
        ["segment.ms", "60000", "override"]
    );

    // Refused changes leave everything as it was.
    let invalid = cluster
        .run(
            &["topic", "alter", "orders", "--config", "segment.ms=soon"],
            "",
        )
        .failed();
    assert_eq!(
        invalid,
        "runnel: cannot alter topic orders: Invalid value soon for configuration segment.ms: Not a number of type LONG"
    );
    let unknown = cluster
        .run(
            &["topic", "alter", "orders", "--config", "segment.size=1"],
            "",
        )
        .failed();
    assert_eq!(unknown, "runnel: unknown topic setting segment.size");
    // The broker's reason, naming the setting, is what the command prints.
    let refused = cluster
        .run(
            &[
                "topic",
                "create",
                "other",
                "--config",
                "min.insync.replicas=0",
            ],
            "",
        )
        .failed();
    assert_eq!(
        refused,
        "runnel: cannot create topic other: Invalid value 0 for configuration \
         min.insync.replicas: Value must be at least 1"
    );
    let syntax = cluster
        .run(
            &["topic", "create", "other", "--config", "retention.ms"],
            "",
        )
        .failed();
    assert_eq!(
        syntax,
        "runnel: bad --config \"retention.ms\": expected KEY=VALUE with a non-empty KEY"
    );
    let described = cluster.ok(&["topic", "describe", "orders"]);
    assert_eq!(
        row(&described, &["segment.ms"]),
        ["segment.ms", "60000", "override"]
    );

    assert_eq!(
        cluster.ok(&["topic", "delete", "orders"]),
        "deleted topic orders\n"
    );
    assert_eq!(cluster.ok(&["topic", "list"]), "audit\n");
    for args in [
        &["topic", "describe", "orders"][..],
        &["topic", "delete", "orders"],
        &["topic", "alter", "orders", "--config", "segment.ms=1"],
    ] {
        assert_eq!(
            cluster.run(args, "").failed(),
            "runnel: unknown topic orders"
        );
    }
}

#[test]
fn produced_lines_come_back_with_keys_headers_and_positions() {
    let cluster = Cluster::start();
    cluster.ok(&["topic", "create", "lines", "--partitions", "1"]);
    cluster
        .run(
            &[
                "produce",
                "lines",
                "--key-separator",
                "::",
                "--header",
                "source=test",
                "--header",
                "empty=",
                "--compression",
                "gzip",
            ],
            "k1::first\nk2::second::with separator\n::keyless?\nk4::\u{e9}t\u{e9}\n",
        )
        .ok();
    let consumed = cluster.ok(&[
        "consume",
        "lines",
        "--from-beginning",
        "--max",
        "4",
        "--format",
        "{topic}/{partition}/{offset} [{key}] [{value}] [{headers}]",
    ]);
    assert_eq!(
        consumed,
        "lines/0/0 [k1] [first] [source=test,empty=]\n\
         lines/0/1 [k2] [second::with separator] [source=test,empty=]\n\
         lines/0/2 [] [keyless?] [source=test,empty=]\n\
         lines/0/3 [k4] [\u{e9}t\u{e9}] [source=test,empty=]\n"
    );

    // Without a separator the whole line is the value; every codec and acks level works.
    for (compression, acks) in [
        ("snappy", "0"),
        ("lz4", "1"),
        ("zstd", "all"),
        ("none", "1"),
    ] {
        cluster
            .run(
                &[
                    "produce",
                    "lines",
                    "--compression",
                    compression,
                    "--acks",
                    acks,
                ],
                &format!("{compression} {acks}\n"),
            )
            .ok();
    }
    let consumed = cluster.ok(&[
        "consume",
        "lines",
        "--offset",
        "4",
        "--max",
        "4",
        "--format",
        "{offset}:{key}:{value}:{headers}",
    ]);
    assert_eq!(
        consumed,
        "4::snappy 0:\n5::lz4 1:\n6::zstd all:\n7::none 1:\n"
    );

    // A line without the separator fails on its own; the others are delivered.
    let partial = cluster
        .run(
            &[
                "produce",
                "lines",
                "--key-separator",
                "=",
                "--partition",
                "0",
            ],
            "a=1\nno separator\nc=3\n",
        )
        .failed();
    assert_eq!(
        partial,
        "runnel: 1 of 3 records were not delivered; first failure, line 2: no key separator in the line"
    );
    let consumed = cluster.ok(&[
        "consume",
        "lines",
        "--offset",
        "8",
        "--max",
        "2",
        "-f",
        "{key}={value}",
    ]);
    assert_eq!(consumed, "a=1\nc=3\n");

    // --partition places records; a partition that does not exist fails them.
    cluster.ok(&["topic", "create", "split", "--partitions", "2"]);
    cluster
        .run(&["produce", "split", "--partition", "1"], "x\ny\n")
        .ok();
    let consumed = cluster.ok(&[
        "consume",
        "split",
        "--from-beginning",
        "--max",
        "2",
        "--format",
        "{partition}:{offset}:{value}",
    ]);
    assert_eq!(consumed, "1:0:x\n1:1:y\n");
    let missing = cluster
        .run(&["produce", "split", "--partition", "5"], "z\n")
        .failed();
    assert!(
        missing.starts_with("runnel: 1 of 1 records were not delivered; first failure, line 1: "),
        "{missing}"
    );
}

#[test]
fn consumers_start_at_an_offset_or_a_time() {
    let cluster = Cluster::start();
    cluster.ok(&["topic", "create", "seek", "--partitions", "1"]);
    cluster.run(&["produce", "seek"], "a\nb\nc\nd\ne\n").ok();
    assert_eq!(
        cluster.ok(&["consume", "seek", "--offset", "3", "--max", "2"]),
        "d\ne\n"
    );
    // Offsets outside the log are clamped: past the end waits for new records only.
    assert_eq!(
        cluster.ok(&["consume", "seek", "--offset", "99", "--timeout-ms", "300"]),
        ""
    );
    // Without a starting point only new records are read.
    assert_eq!(cluster.ok(&["consume", "seek", "--timeout-ms", "300"]), "");

    let stamped = cluster.ok(&[
        "consume",
        "seek",
        "--from-beginning",
        "--max",
        "5",
        "--format",
        "{timestamp}",
    ]);
    let latest: i64 = stamped
        .lines()
        .map(|t| t.parse::<i64>().unwrap())
        .max()
        .unwrap();
    // Records produced once the clock has passed the latest timestamp are strictly newer.
    while now_ms() <= latest {
        thread::yield_now();
    }
    cluster.run(&["produce", "seek"], "f\ng\n").ok();
    let since = (latest + 1).to_string();
    assert_eq!(
        cluster.ok(&["consume", "seek", "--timestamp", &since, "--max", "2"]),
        "f\ng\n"
    );
    let earliest = stamped.lines().next().unwrap();
    assert_eq!(
        cluster.ok(&["consume", "seek", "--timestamp", earliest, "--max", "7"]),
        "a\nb\nc\nd\ne\nf\ng\n"
    );
    // A time after every record: nothing until new records come.
    let future = (now_ms() + 3_600_000).to_string();
    assert_eq!(
        cluster.ok(&[
            "consume",
            "seek",
            "--timestamp",
            &future,
            "--timeout-ms",
            "300"
        ]),
        ""
    );
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn group_consumers_commit_and_describe_shows_lag() {
    let cluster = Cluster::start();
    cluster.ok(&["topic", "create", "work", "--partitions", "2"]);
    cluster
        .run(&["produce", "work", "--partition", "0"], "a\nb\nc\n")
        .ok();
    cluster
        .run(&["produce", "work", "--partition", "1"], "d\ne\n")
        .ok();

    let consumed = cluster.ok(&[
        "consume",
        "work",
        "--group",
        "billing",
        "--from-beginning",
        "--max",
        "5",
        "--format",
        "{partition}:{value}",
    ]);
    let mut lines: Vec<&str> = consumed.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines, ["0:a", "0:b", "0:c", "1:d", "1:e"]);

    let listed = cluster.ok(&["group", "list"]);
    assert_eq!(
        row(&listed, &["GROUP"]),
        ["GROUP", "TYPE", "STATE", "PROTOCOL", "ASSIGNOR", "MEMBERS"]
    );
    assert_eq!(
        row(&listed, &["billing"])[1..],
        ["classic", "Empty", "consumer", "-", "0"]
    );

    let described = cluster.ok(&["group", "describe", "billing"]);
    assert!(
        described.starts_with("Group:     billing\nState:     Empty\n"),
        "{described}"
    );
    assert_eq!(
        row(&described, &["TOPIC"]),
        [
            "TOPIC",
            "PARTITION",
            "COMMITTED",
            "LOG-END",
            "LAG",
            "MEMBER-ID"
        ]
    );
    assert_eq!(
        row(&described, &["work", "0"]),
        ["work", "0", "3", "3", "0", "-"]
    );
    assert_eq!(
        row(&described, &["work", "1"]),
        ["work", "1", "2", "2", "0", "-"]
    );

    // New records on partition 1 only: lag shows there and nowhere else.
    cluster
        .run(&["produce", "work", "--partition", "1"], "f\ng\nh\ni\n")
        .ok();
    let described = cluster.ok(&["group", "describe", "billing"]);
    assert_eq!(
        row(&described, &["work", "0"]),
        ["work", "0", "3", "3", "0", "-"]
    );
    assert_eq!(
        row(&described, &["work", "1"]),
        ["work", "1", "2", "6", "4", "-"]
    );

    // The group resumes from its committed offsets, whatever --from-beginning says.
    let resumed = cluster.ok(&[
        "consume",
        "work",
        "-g",
        "billing",
        "--from-beginning",
        "--max",
        "4",
    ]);
    assert_eq!(resumed, "f\ng\nh\ni\n");
    let described = cluster.ok(&["group", "describe", "billing"]);
    assert_eq!(
        row(&described, &["work", "1"]),
        ["work", "1", "6", "6", "0", "-"]
    );

    assert_eq!(
        cluster.run(&["group", "describe", "nobody"], "").failed(),
        "runnel: unknown group nobody"
    );

    // Deleting the group takes its offsets: a new member under that id starts over.
    assert_eq!(
        cluster.ok(&["group", "delete", "billing"]),
        "deleted group billing\n"
    );
    let again = cluster.run(&["group", "delete", "billing"], "").failed();
    assert!(
        again.starts_with("runnel: cannot delete group billing:"),
        "{again}"
    );
    let restarted = cluster.ok(&[
        "consume",
        "work",
        "-g",
        "billing",
        "--from-beginning",
        "--max",
        "3",
        "--timeout-ms",
        "10000",
        "--format",
        "{partition}:{value}",
    ]);
    assert_eq!(restarted.lines().count(), 3, "{restarted}");
}

#[test]
fn group_offsets_are_reset_to_a_position_or_shifted_and_only_printed_on_a_dry_run() {
    let cluster = Cluster::start();
    cluster.ok(&["topic", "create", "ledger", "--partitions", "2"]);
    cluster
        .run(
            &["produce", "ledger", "--partition", "0"],
            "a\nb\nc\nd\ne\n",
        )
        .ok();
    cluster
        .run(&["produce", "ledger", "--partition", "1"], "f\ng\nh\n")
        .ok();
    // The group reads everything and leaves, committed at the log ends.
    cluster.ok(&[
        "consume",
        "ledger",
        "-g",
        "auditors",
        "--from-beginning",
        "--max",
        "8",
    ]);
    let committed = || {
        let described = cluster.ok(&["group", "describe", "auditors"]);
        [0, 1].map(|p| row(&described, &["ledger", &p.to_string()])[2].clone())
    };
    assert_eq!(committed(), ["5", "3"]);
    let reset = |args: &[&str]| {
        let mut all = vec!["group", "reset-offsets", "auditors", "--topic", "ledger"];
        all.extend(args);
        cluster.run(&all, "")
    };
    let new_offsets = |printed: &str| {
        assert_eq!(
            row(printed, &["GROUP"]),
            ["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"]
        );
        [0, 1].map(|p| row(printed, &["auditors", "ledger", &p.to_string()])[3].clone())
    };

    // A dry run, asked for or by default, prints the new offsets and commits nothing.
    let planned = reset(&["--to-earliest", "--dry-run"]).ok();
    assert_eq!(new_offsets(&planned), ["0", "0"]);
    assert_eq!(reset(&["--to-earliest"]).ok(), planned);
    assert_eq!(committed(), ["5", "3"]);

    // Executed, each kind of target lands where Kafka's tool puts it: shifts and offsets
    // are clamped to the retained range, a time takes the first record at or after it.
    let cases: [(&[&str], [&str; 2]); 6] = [
        (&["--shift-by", "-2"], ["3", "1"]),
        (&["--to-offset", "4"], ["4", "3"]),
        (&["--shift-by", "-10"], ["0", "0"]),
        (&["--to-datetime", "2100-01-01T00:00:00Z"], ["5", "3"]),
        (&["--to-datetime", "1970-01-01T00:00:00+01:00"], ["0", "0"]),
        (&["--to-latest"], ["5", "3"]),
    ];
    for (target, expected) in cases {
        let mut args = target.to_vec();
        args.push("--execute");
        let printed = reset(&args).ok();
        assert_eq!(new_offsets(&printed), expected, "{target:?}");
        assert_eq!(committed(), expected, "{target:?}");
    }

    // Bad input: one clear refusal, nothing changed.
    for (args, message) in [
        (&["--to-datetime", "yesterday"][..], "RFC 3339"),
        (&["--to-earliest", "--to-latest"][..], "cannot be used with"),
        (&[][..], "required"),
        (
            &["--to-earliest", "--execute", "--dry-run"][..],
            "cannot be used with",
        ),
    ] {
        let refused = reset(args);
        assert!(!refused.status.success(), "{args:?}");
        assert!(
            refused.stderr.contains(message),
            "{args:?}: {}",
            refused.stderr
        );
    }
    let unshiftable = cluster
        .run(
            &[
                "group",
                "reset-offsets",
                "newcomers",
                "--topic",
                "ledger",
                "--shift-by",
                "1",
            ],
            "",
        )
        .failed();
    assert!(
        unshiftable.contains("no committed offset in ledger-0 to shift"),
        "{unshiftable}"
    );
    assert_eq!(committed(), ["5", "3"]);
}

#[test]
fn a_live_member_shows_its_assignment() {
    let cluster = Cluster::start();
    cluster.ok(&["topic", "create", "live", "--partitions", "2"]);
    cluster
        .run(&["produce", "live", "--partition", "1"], "x\n")
        .ok();
    // The member stays in the group until it has printed a second record, which is only
    // produced once the describe below has seen it.
    let bootstrap = cluster.bootstrap.clone();
    let member = thread::spawn(move || {
        runnel(
            &[
                "consume",
                "live",
                "-g",
                "watchers",
                "--from-beginning",
                "--max",
                "2",
                "-b",
                &bootstrap,
            ],
            "",
        )
        .ok()
    });
    let deadline = Instant::now() + DEADLINE;
    let described = loop {
        // Until the member has joined, the group is unknown.
        let described = cluster.run(&["group", "describe", "watchers"], "").stdout;
        if described.contains("State:     Stable") && described.contains("live:0,1") {
            break described;
        }
        assert!(Instant::now() < deadline, "no stable member:\n{described}");
        thread::sleep(Duration::from_millis(20));
    };
    let member_row = row(&described, &["MEMBER-ID"]);
    assert_eq!(member_row, ["MEMBER-ID", "CLIENT-ID", "HOST", "ASSIGNMENT"]);
    let owner = described
        .lines()
        .find(|line| line.ends_with("live:0,1"))
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>();
    assert_eq!(owner[1..], ["runnel", "/127.0.0.1", "live:0,1"]);
    assert!(described.contains("Members:   1\n"), "{described}");
    assert!(described.contains("Assignor:  range\n"), "{described}");
    // Each assigned partition names its owner, even before anything is committed.
    let uncommitted = row(&described, &["live", "0"]);
    assert_eq!(uncommitted, ["live", "0", "-", "0", "-", owner[0]]);

    cluster
        .run(&["produce", "live", "--partition", "0"], "y\n")
        .ok();
    let mut consumed: Vec<String> = member.join().unwrap().lines().map(str::to_owned).collect();
    consumed.sort_unstable();
    assert_eq!(consumed, ["x", "y"]);
}

#[test]
fn transactions_are_listed_and_described_while_open_and_once_committed() {
    let cluster = Cluster::start();
    cluster.ok(&["topic", "create", "ledger", "--partitions", "2"]);
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &cluster.bootstrap)
        .set("transactional.id", "ledger-writer")
        .create()
        .expect("transactional producer");
    producer
        .init_transactions(DEADLINE)
        .expect("init_transactions");
    producer.begin_transaction().expect("begin_transaction");
    producer
        .send(BaseRecord::to("ledger").partition(1).key("k").payload("v"))
        .map_err(|(error, _)| error)
        .expect("record enqueued");
    // Once delivered, the partition has been added to the transaction, which stays open.
    producer.flush(DEADLINE).expect("record delivered");

    let describe = [
        "transactions",
        "describe",
        "--transactional-id",
        "ledger-writer",
    ];
    let listed = cluster.ok(&["transactions", "list"]);
    assert_eq!(
        row(&listed, &["TRANSACTIONAL-ID"]),
        ["TRANSACTIONAL-ID", "PRODUCER-ID", "STATE"]
    );
    let open = row(&listed, &["ledger-writer"]);
    assert_eq!(open[2], "Ongoing", "{listed}");
    let producer_id = open[1].clone();
    let filtered = cluster.ok(&[
        "transactions",
        "list",
        "--state",
        "Ongoing,PrepareCommit",
        "--producer-id",
        &producer_id,
    ]);
    assert_eq!(row(&filtered, &["ledger-writer"]), open);
    let others = cluster.ok(&["transactions", "list", "--state", "CompleteAbort"]);
    assert!(!others.contains("ledger-writer"), "{others}");

    let described = cluster.ok(&describe);
    assert!(
        described.starts_with("TransactionalId:  ledger-writer\n"),
        "{described}"
    );
    assert_eq!(
        row(&described, &["ProducerId:"]),
        ["ProducerId:", &producer_id]
    );
    assert_eq!(row(&described, &["State:"]), ["State:", "Ongoing"]);
    assert_ne!(row(&described, &["StartTimeMs:"])[1], "-", "{described}");
    assert_eq!(row(&described, &["TOPIC"]), ["TOPIC", "PARTITION"]);
    assert_eq!(row(&described, &["ledger"]), ["ledger", "1"]);

    producer
        .commit_transaction(DEADLINE)
        .expect("commit_transaction");
    // The coordinator completes a commit once the markers are written, after it answered.
    let deadline = Instant::now() + DEADLINE;
    loop {
        let listed = cluster.ok(&["transactions", "list"]);
        if row(&listed, &["ledger-writer"])[2] == "CompleteCommit" {
            break;
        }
        assert!(Instant::now() < deadline, "never committed:\n{listed}");
        thread::sleep(Duration::from_millis(20));
    }
    let described = cluster.ok(&describe);
    assert_eq!(row(&described, &["State:"]), ["State:", "CompleteCommit"]);

    assert_eq!(
        cluster
            .run(
                &["transactions", "describe", "--transactional-id", "nobody"],
                ""
            )
            .failed(),
        "runnel: transactional id 'nobody' not found"
    );
}

#[test]
fn consumer_protocol_groups_are_listed_and_described_with_their_epochs() {
    let cluster = Cluster::start();
    cluster.ok(&["topic", "create", "next", "--partitions", "2"]);
    cluster
        .run(&["produce", "next", "--partition", "0"], "a\nb\n")
        .ok();
    cluster
        .run(&["produce", "next", "--partition", "1"], "c\n")
        .ok();
    // A member of a consumer protocol group that stays until it has printed a fourth record,
    // which is only produced once the describe below has seen it.
    let bootstrap = cluster.bootstrap.clone();
    let member = thread::spawn(move || {
        runnel(
            &[
                "consume",
                "next",
                "-g",
                "readers",
                "--group-protocol",
                "consumer",
                "--from-beginning",
                "--max",
                "4",
                "-b",
                &bootstrap,
            ],
            "",
        )
        .ok()
    });
    let deadline = Instant::now() + DEADLINE;
    let described = loop {
        let described = cluster.run(&["group", "describe", "readers"], "").stdout;
        if described.contains("next:0,1") && row_matches(&described, &["State:", "Stable"]) {
            break described;
        }
        assert!(Instant::now() < deadline, "no stable member:\n{described}");
        thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(row(&described, &["Type:"]), ["Type:", "consumer"]);
    assert_eq!(row(&described, &["Protocol:"]), ["Protocol:", "consumer"]);
    assert_eq!(row(&described, &["Assignor:"]), ["Assignor:", "uniform"]);
    assert_eq!(row(&described, &["Members:"]), ["Members:", "1"]);
    assert_eq!(
        row(&described, &["Epoch:"]),
        ["Epoch:", "1", "(assignment", "1)"]
    );
    assert_eq!(
        row(&described, &["MEMBER-ID"]),
        [
            "MEMBER-ID",
            "CLIENT-ID",
            "HOST",
            "EPOCH",
            "ASSIGNMENT",
            "TARGET"
        ]
    );
    let owner: Vec<&str> = described
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .find(|cells| cells.ends_with(&["next:0,1", "next:0,1"]))
        .unwrap();
    assert_eq!(
        owner[1..],
        ["runnel", "/127.0.0.1", "1", "next:0,1", "next:0,1"]
    );
    // Each partition names its owner.
    assert_eq!(row(&described, &["next", "1"])[5], owner[0]);

    let listed = cluster.ok(&["group", "list"]);
    assert_eq!(
        row(&listed, &["readers"])[1..],
        ["consumer", "Stable", "consumer", "uniform", "1"]
    );

    cluster
        .run(&["produce", "next", "--partition", "1"], "d\n")
        .ok();
    let printed = member.join().unwrap();
    let mut lines: Vec<&str> = printed.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines, ["a", "b", "c", "d"]);

    // The member left and committed: an empty consumer group with its offsets.
    let described = cluster.ok(&["group", "describe", "readers"]);
    assert_eq!(row(&described, &["State:"]), ["State:", "Empty"]);
    assert_eq!(row(&described, &["Type:"]), ["Type:", "consumer"]);
    assert_eq!(row(&described, &["Members:"]), ["Members:", "0"]);
    assert_eq!(
        row(&described, &["next", "0"]),
        ["next", "0", "2", "2", "0", "-"]
    );
    assert_eq!(
        row(&described, &["next", "1"]),
        ["next", "1", "2", "2", "0", "-"]
    );
    let listed = cluster.ok(&["group", "list"]);
    assert_eq!(
        row(&listed, &["readers"])[1..],
        ["consumer", "Empty", "consumer", "uniform", "0"]
    );
}

/// Whether `table` has a row starting with `first`.
fn row_matches(table: &str, first: &[&str]) -> bool {
    table.lines().any(|line| {
        let cells: Vec<&str> = line.split_whitespace().collect();
        cells.len() >= first.len() && cells[..first.len()] == *first
    })
}

#[test]
fn failures_are_one_line_and_bounded_in_time() {
    // A port nothing listens on: bind one, then let it go.
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().to_string()
    };
    // Shorter timeouts run alongside the default one.
    let short: Vec<_> = [
        &["consume", "t", "--request-timeout-ms", "1000"][..],
        &["produce", "t", "--request-timeout-ms", "1000"],
        &["group", "list", "--request-timeout-ms", "1000"],
        &["transactions", "list", "--request-timeout-ms", "1000"],
    ]
    .into_iter()
    .map(|args| {
        let mut args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        args.extend(["-b".to_owned(), closed.clone()]);
        thread::spawn(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            (format!("{args:?}"), runnel(&args, "a\n"))
        })
    })
    .collect();
    let unreachable = runnel(&["topic", "list", "-b", &closed], "");
    let elapsed = unreachable.elapsed;
    let line = unreachable.failed();
    assert!(
        line.starts_with(&format!(
            "runnel: no broker answered at {closed} within 10000 ms ("
        )),
        "{line}"
    );
    assert!(line.contains("Connection refused"), "{line}");
    assert!(elapsed < Duration::from_secs(15), "took {elapsed:?}");
    for run in short {
        let (args, run) = run.join().unwrap();
        assert!(
            run.elapsed < Duration::from_secs(5),
            "{args} took {:?}",
            run.elapsed
        );
        let line = run.failed();
        assert!(
            line.starts_with(&format!(
                "runnel: no broker answered at {closed} within 1000 ms"
            )),
            "{line}"
        );
    }

    let cluster = Cluster::start();
    assert_eq!(
        cluster.run(&["topic", "describe", "missing"], "").failed(),
        "runnel: unknown topic missing"
    );
    assert_eq!(
        cluster
            .run(&["consume", "missing", "--max", "1"], "")
            .failed(),
        "runnel: unknown topic missing"
    );
    // Describing or consuming never creates the topic, auto-creation or not.
    assert_eq!(cluster.ok(&["topic", "list"]), "");
    assert_eq!(
        cluster
            .run(&["consume", "t", "--format", "{nope}"], "")
            .failed(),
        "runnel: bad --format \"{nope}\": unknown field {nope}; known: {topic} {partition} \
         {offset} {timestamp} {key} {value} {headers}"
    );
    assert_eq!(
        cluster
            .run(&["produce", "t", "--header", "novalue"], "a\n")
            .failed(),
        "runnel: bad --header \"novalue\": expected KEY=VALUE with a non-empty KEY"
    );
    assert_eq!(
        cluster.run(&["topic", "alter", "t"], "").failed(),
        "runnel: bad arguments: nothing to alter: give --config KEY=VALUE or --delete-config KEY"
    );
}

#[test]
fn quotas_are_set_described_and_removed_like_kafka_configs() {
    let cluster = Cluster::start();
    assert_eq!(
        cluster.ok(&[
            "quota",
            "alter",
            "--client",
            "ingest",
            "--add-config",
            "producer_byte_rate=1048576,request_percentage=50",
        ]),
        "Altered the quotas of client-id ingest.\n"
    );
    cluster.ok(&[
        "quota",
        "alter",
        "--user-defaults",
        "--client-defaults",
        "--add-config",
        "consumer_byte_rate=5242880",
    ]);
    let all = cluster.ok(&["quota", "describe"]);
    assert_eq!(
        row(&all, &["-", "ingest", "producer_byte_rate"]),
        ["-", "ingest", "producer_byte_rate", "1048576"]
    );
    assert_eq!(
        row(&all, &["-", "ingest", "request_percentage"]),
        ["-", "ingest", "request_percentage", "50"]
    );
    assert_eq!(
        row(&all, &["<default>", "<default>"]),
        ["<default>", "<default>", "consumer_byte_rate", "5242880"]
    );
    // One entity alone, and a quota removed.
    cluster.ok(&[
        "quota",
        "alter",
        "--client",
        "ingest",
        "--delete-config",
        "request_percentage",
    ]);
    let ingest = cluster.ok(&["quota", "describe", "--client", "ingest"]);
    assert_eq!(ingest.lines().count(), 2, "{ingest}");
    assert!(ingest.contains("producer_byte_rate"), "{ingest}");

    let unknown = cluster
        .run(
            &["quota", "alter", "--client", "x", "--add-config", "bytes=1"],
            "",
        )
        .failed();
    assert!(unknown.contains("unknown quota key \"bytes\""), "{unknown}");
    let negative = cluster
        .run(
            &[
                "quota",
                "alter",
                "--user",
                "bob",
                "--add-config",
                "consumer_byte_rate=-1",
            ],
            "",
        )
        .failed();
    assert!(negative.contains("must be a positive number"), "{negative}");
    let nobody = cluster
        .run(
            &["quota", "alter", "--add-config", "producer_byte_rate=1"],
            "",
        )
        .failed();
    assert!(nobody.contains("name an entity"), "{nobody}");
}

#[test]
fn acls_are_added_listed_and_removed_like_kafka_acls() {
    let open = Cluster::start();
    assert_eq!(
        open.run(&["acl", "list"], "").failed(),
        "runnel: cannot describe ACLs: No Authorizer is configured."
    );
    drop(open);

    // The command line's connection is User:ANONYMOUS, made a super user to manage ACLs.
    let cluster = Cluster::start_with(|c| {
        c.set(
            "authorizer.class.name",
            "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        )
        .unwrap();
        c.set("super.users", "User:ANONYMOUS").unwrap();
    });
    assert_eq!(
        cluster.ok(&[
            "acl",
            "add",
            "--allow-principal",
            "User:alice",
            "--operation",
            "Read",
            "--operation",
            "Describe",
            "--topic",
            "orders-",
            "--resource-pattern-type",
            "prefixed",
        ]),
        "Added 2 ACL(s).\n"
    );
    cluster.ok(&[
        "acl",
        "add",
        "--deny-principal",
        "User:bob",
        "--operation",
        "Write",
        "--topic",
        "payments",
    ]);
    let all = cluster.ok(&["acl", "list"]);
    assert_eq!(
        row(
            &all,
            &["TOPIC", "orders-", "PREFIXED", "User:alice", "*", "READ"]
        ),
        [
            "TOPIC",
            "orders-",
            "PREFIXED",
            "User:alice",
            "*",
            "READ",
            "ALLOW"
        ]
    );
    assert_eq!(
        row(&all, &["TOPIC", "payments"]),
        ["TOPIC", "payments", "LITERAL", "User:bob", "*", "WRITE", "DENY"]
    );
    // What applies to one topic: the prefixed ACLs it starts with.
    let applying = cluster.ok(&[
        "acl",
        "list",
        "--topic",
        "orders-eu",
        "--resource-pattern-type",
        "match",
    ]);
    assert_eq!(applying.lines().count(), 3, "{applying}");
    assert!(!applying.contains("payments"), "{applying}");
    assert_eq!(
        cluster.ok(&["acl", "remove", "--topic", "payments"]),
        "Removed 1 ACL(s).\n"
    );
    assert!(!cluster.ok(&["acl", "list"]).contains("payments"));
    assert_eq!(
        cluster.run(&["acl", "add", "--topic", "t"], "").failed(),
        "runnel: bad arguments: add needs a resource (--topic, --group, --transactional-id or \
         --cluster), a principal (--allow-principal or --deny-principal) and an --operation"
    );
    assert_eq!(
        cluster
            .run(
                &[
                    "acl",
                    "add",
                    "--allow-principal",
                    "User:a",
                    "--operation",
                    "Reed",
                    "--cluster"
                ],
                ""
            )
            .failed(),
        "runnel: bad arguments: --operation Reed: not an ACL operation"
    );
}
