//! The `runnel` client commands and web console against brokers whose listeners need TLS:
//! client settings given as `-X` and `--command-config` with librdkafka's names, over an SSL
//! listener with a CA and with mutual TLS, through librdkafka (topic list, produce,
//! consume) and the CLI's own wire client (topic create, transactions list); an untrusted
//! broker, a missing client certificate and settings the wire client cannot honour are
//! refused with one line; the console of a broker whose only listener is SSL with client
//! certificates required still answers. Every certificate is made by the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/serve.rs"]
mod serve;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use runnel_broker::{Broker, BrokerConfig};

const DEADLINE: Duration = Duration::from_secs(30);

/// A certificate authority, its certificate written to `DIR/NAME.pem`.
struct Authority {
    issuer: Issuer<'static, KeyPair>,
    path: PathBuf,
}

impl Authority {
    fn new(dir: &Path, name: &str) -> Authority {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let path = dir.join(format!("{name}.pem"));
        std::fs::write(&path, params.self_signed(&key).unwrap().pem()).unwrap();
        Authority {
            issuer: Issuer::new(params, key),
            path,
        }
    }

    /// A certificate for localhost and 127.0.0.1 named `name`, written as `DIR/NAME.crt` and
    /// `DIR/NAME.key`, and both in `DIR/NAME.pem` (a broker keystore).
    fn sign(&self, dir: &Path, name: &str) -> (PathBuf, PathBuf, PathBuf) {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        let certificate = params.signed_by(&key, &self.issuer).unwrap().pem();
        let key = key.serialize_pem();
        let paths = (
            dir.join(format!("{name}.crt")),
            dir.join(format!("{name}.key")),
            dir.join(format!("{name}.pem")),
        );
        std::fs::write(&paths.0, &certificate).unwrap();
        std::fs::write(&paths.1, &key).unwrap();
        std::fs::write(&paths.2, format!("{certificate}{key}")).unwrap();
        paths
    }
}

/// The test's certificates: a CA that signed the broker's and a client's, and another CA
/// that signed nothing the broker trusts.
struct Pki {
    dir: tempfile::TempDir,
    ca: PathBuf,
    other_ca: PathBuf,
    keystore: PathBuf,
    client_certificate: PathBuf,
    client_key: PathBuf,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let authority = Authority::new(dir.path(), "ca");
        let other = Authority::new(dir.path(), "other-ca");
        let (_, _, keystore) = authority.sign(dir.path(), "broker");
        let (client_certificate, client_key, _) = authority.sign(dir.path(), "client");
        Pki {
            ca: authority.path.clone(),
            other_ca: other.path.clone(),
            keystore,
            client_certificate,
            client_key,
            dir,
        }
    }

    fn tls_settings(&self, client_auth: &str) -> Vec<(&'static str, String)> {
        vec![
            ("listeners", "SSL://127.0.0.1:0".to_owned()),
            ("ssl.keystore.location", self.keystore.display().to_string()),
            ("ssl.truststore.location", self.ca.display().to_string()),
            ("ssl.client.auth", client_auth.to_owned()),
        ]
    }

    /// Writes a `--command-config` file.
    fn properties(&self, name: &str, lines: &[String]) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, lines.join("\n")).unwrap();
        path.display().to_string()
    }
}

/// A broker whose only listener is SSL, served by its own runtime.
struct SslBroker {
    runtime: tokio::runtime::Runtime,
    broker: Option<Broker>,
    bootstrap: String,
    _data: tempfile::TempDir,
}

impl SslBroker {
    fn start(pki: &Pki, client_auth: &str) -> SslBroker {
        let data = tempfile::tempdir().unwrap();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let mut config = BrokerConfig::new(data.path(), "127.0.0.1:0");
        for (name, value) in pki.tls_settings(client_auth) {
            config.set(name, &value).unwrap();
        }
        let broker = runtime.block_on(Broker::start(config)).unwrap();
        SslBroker {
            bootstrap: broker.listener_addr("SSL").unwrap().to_string(),
            runtime,
            broker: Some(broker),
            _data: data,
        }
    }

    /// `runnel ARGS -b SSL-LISTENER` with `input` on standard input.
    fn run(&self, args: &[&str], input: &str) -> Run {
        let mut all = args.to_vec();
        all.extend(["-b", &self.bootstrap]);
        runnel(&all, input)
    }
}

impl Drop for SslBroker {
    fn drop(&mut self) {
        if let Some(broker) = self.broker.take() {
            let _ = self.runtime.block_on(broker.shutdown());
        }
    }
}

struct Run {
    success: bool,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(self) -> String {
        assert!(self.success, "failed: {}", self.stderr);
        self.stdout
    }

    /// The one line on standard error of a failed command.
    fn failed(self) -> String {
        assert!(!self.success, "succeeded: {}", self.stdout);
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "stderr: {}", self.stderr);
        assert!(lines[0].starts_with("runnel: "), "{}", self.stderr);
        lines[0].to_owned()
    }
}

/// Runs `runnel ARGS`, killing it after `DEADLINE`.
fn runnel(args: &[&str], input: &str) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_runnel"))
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_owned();
    let writer = thread::spawn(move || {
        use std::io::Write;
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
    let started = Instant::now();
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
        success: status.success(),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

#[test]
fn commands_work_over_ssl_with_a_ca_given_as_x_or_in_a_command_config_file() {
    let pki = Pki::new();
    let broker = SslBroker::start(&pki, "none");
    let ca = format!("ssl.ca.location={}", pki.ca.display());
    let x = ["-X", "security.protocol=SSL", "-X", &ca];
    // The wire client (CreateTopics), checking the broker's name against 127.0.0.1.
    let created = broker.run(&[&["topic", "create", "secure"][..], &x].concat(), "");
    assert_eq!(created.ok(), "created topic secure\n");
    // librdkafka, from a properties file.
    let file = pki.properties(
        "client.properties",
        &[
            "# as kafka-topics --command-config reads it".to_owned(),
            "security.protocol = SSL".to_owned(),
            format!("ssl.ca.location: {}", pki.ca.display()),
        ],
    );
    let config = ["--command-config", &file];
    assert_eq!(
        broker
            .run(&[&["topic", "list"][..], &config].concat(), "")
            .ok(),
        "secure\n"
    );
    broker
        .run(
            &[&["produce", "secure"][..], &config].concat(),
            "over tls\n",
        )
        .ok();
    let consumed = broker.run(
        &[
            &["consume", "secure", "--from-beginning", "--max", "1"][..],
            &config,
        ]
        .concat(),
        "",
    );
    assert_eq!(consumed.ok(), "over tls\n");
    // The wire client from the file too.
    assert_eq!(
        broker
            .run(&[&["transactions", "list"][..], &config].concat(), "")
            .ok(),
        broker
            .run(&[&["transactions", "list"][..], &x].concat(), "")
            .ok()
    );
}

#[test]
fn mutual_tls_needs_the_client_certificate_and_an_untrusted_broker_is_refused_on_one_line() {
    let pki = Pki::new();
    let broker = SslBroker::start(&pki, "required");
    let ca = format!("ssl.ca.location={}", pki.ca.display());
    let certificate = format!(
        "ssl.certificate.location={}",
        pki.client_certificate.display()
    );
    let key = format!("ssl.key.location={}", pki.client_key.display());
    let with_certificate = [
        "-X",
        "security.protocol=ssl",
        "-X",
        &ca,
        "-X",
        &certificate,
        "-X",
        &key,
    ];
    broker
        .run(
            &[&["topic", "create", "mtls"][..], &with_certificate].concat(),
            "",
        )
        .ok();
    assert_eq!(
        broker
            .run(&[&["topic", "list"][..], &with_certificate].concat(), "")
            .ok(),
        "mtls\n"
    );
    broker
        .run(
            &[&["produce", "mtls"][..], &with_certificate].concat(),
            "mutual\n",
        )
        .ok();
    let consumed = broker.run(
        &[
            &["consume", "mtls", "--from-beginning", "--max", "1"][..],
            &with_certificate,
        ]
        .concat(),
        "",
    );
    assert_eq!(consumed.ok(), "mutual\n");

    let short = ["--request-timeout-ms", "3000"];
    // Without a certificate the broker ends the handshake (in TLS 1.3 the client hears of
    // it at its first read): through the wire client, then through librdkafka.
    let without = ["-X", "security.protocol=SSL", "-X", &ca];
    let refused = broker
        .run(
            &[&["transactions", "list"][..], &without, &short].concat(),
            "",
        )
        .failed();
    assert!(refused.contains("CertificateRequired"), "{refused}");
    let refused = broker
        .run(&[&["topic", "list"][..], &without, &short].concat(), "")
        .failed();
    assert!(refused.contains("certificate required"), "{refused}");

    // A broker whose certificate does not chain to the CA given is not trusted.
    let wrong_ca = format!("ssl.ca.location={}", pki.other_ca.display());
    let untrusted = [
        "-X",
        "security.protocol=SSL",
        "-X",
        &wrong_ca,
        "-X",
        &certificate,
        "-X",
        &key,
    ];
    let refused = broker
        .run(
            &[&["transactions", "list"][..], &untrusted, &short].concat(),
            "",
        )
        .failed();
    assert!(
        refused.contains("TLS handshake failed") && refused.contains("UnknownIssuer"),
        "{refused}"
    );
    let refused = broker
        .run(&[&["topic", "list"][..], &untrusted, &short].concat(), "")
        .failed();
    assert!(refused.contains("certificate verify failed"), "{refused}");
}

#[test]
fn bad_client_settings_are_refused_on_one_line() {
    let pki = Pki::new();
    let missing = pki.dir.path().join("absent.properties");
    let refused = runnel(
        &[
            "topic",
            "list",
            "--command-config",
            &missing.display().to_string(),
        ],
        "",
    )
    .failed();
    assert!(refused.contains("cannot read client settings"), "{refused}");
    let bad = pki.properties(
        "bad.properties",
        &["security.protocol=SSL".to_owned(), "oops".to_owned()],
    );
    let refused = runnel(&["topic", "list", "--command-config", &bad], "").failed();
    assert!(
        refused.ends_with("line 2: expected KEY=VALUE, got \"oops\""),
        "{refused}"
    );
    // librdkafka's own refusal of a name it does not know.
    let refused = runnel(&["topic", "list", "-X", "no.such.setting=1"], "").failed();
    assert!(refused.contains("no.such.setting"), "{refused}");
    // A setting only librdkafka honours, for a command of the wire client.
    let refused = runnel(
        &[
            "transactions",
            "list",
            "-X",
            "security.protocol=SSL",
            "-X",
            "ssl.key.password=x",
        ],
        "",
    )
    .failed();
    assert!(
        refused.contains("cannot honour ssl.key.password"),
        "{refused}"
    );
    let refused = runnel(&["topic", "list", "-X", "novalue"], "").failed();
    assert!(refused.contains("bad -X \"novalue\""), "{refused}");
}

#[tokio::test]
async fn the_console_of_a_broker_with_only_a_mutual_tls_listener_still_answers() {
    let pki = Pki::new();
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("broker.toml");
    let settings: String = pki
        .tls_settings("required")
        .into_iter()
        .filter(|(name, _)| *name != "listeners")
        .map(|(name, value)| format!("{name:?} = {value:?}\n"))
        .collect();
    std::fs::write(&config, settings).unwrap();
    let admin = format!("127.0.0.1:{}", serve::free_port());
    let listener = format!("SSL://127.0.0.1:{}", serve::free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_runnel"))
        .args(["serve", "--data-dir"])
        .arg(data.path().join("data"))
        .args(["--listen", &listener, "--admin-listen", &admin])
        .arg("--config")
        .arg(&config)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + DEADLINE;
    while !reqwest::get(format!("http://{admin}/health"))
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(Instant::now() < deadline, "the admin server never answered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let bootstrap = listener.trim_start_matches("SSL://");
    let ca = format!("ssl.ca.location={}", pki.ca.display());
    let certificate = format!(
        "ssl.certificate.location={}",
        pki.client_certificate.display()
    );
    let key = format!("ssl.key.location={}", pki.client_key.display());
    let created = runnel(
        &[
            "topic",
            "create",
            "shown",
            "-b",
            bootstrap,
            "-X",
            "security.protocol=SSL",
            "-X",
            &ca,
            "-X",
            &certificate,
            "-X",
            &key,
        ],
        "",
    );
    let answer = reqwest::get(format!("http://{admin}/console/api/topics"))
        .await
        .unwrap();
    let status = answer.status();
    let body: serde_json::Value = answer.json().await.unwrap();
    let _ = child.kill();
    let _ = child.wait();
    created.ok();
    assert!(status.is_success(), "{status}: {body}");
    assert_eq!(body, serde_json::json!(["shown"]));
}
