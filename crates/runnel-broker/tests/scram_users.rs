//! SCRAM credentials over the wire: AlterUserScramCredentials and
//! DescribeUserScramCredentials with Kafka's error codes and messages, and credentials kept
//! across a restart; the SASL requests on a listener without SASL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{start, Raw};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use kafka_protocol::messages::describe_user_scram_credentials_request::UserName;
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse, ApiKey,
    DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse,
    SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse,
};
use kafka_protocol::protocol::StrBytes;
use runnel_auth::ScramMechanism;

const SHA256: i8 = 1;
const SHA512: i8 = 2;

fn s(text: &str) -> StrBytes {
    StrBytes::from_string(text.to_owned())
}

fn upsert(user: &str, mechanism: i8, iterations: i32) -> ScramCredentialUpsertion {
    let salted = match ScramMechanism::from_kafka_type(mechanism) {
        Some(m) => m.salted_password(b"secret", b"salt", 4096),
        None => vec![0; 32],
    };
    ScramCredentialUpsertion::default()
        .with_name(s(user))
        .with_mechanism(mechanism)
        .with_iterations(iterations)
        .with_salt(b"salt".to_vec().into())
        .with_salted_password(salted.into())
}

fn delete(user: &str, mechanism: i8) -> ScramCredentialDeletion {
    ScramCredentialDeletion::default()
        .with_name(s(user))
        .with_mechanism(mechanism)
}

/// Each user's result as `user: code message`.
async fn alter(
    raw: &mut Raw,
    deletions: Vec<ScramCredentialDeletion>,
    upsertions: Vec<ScramCredentialUpsertion>,
) -> Vec<String> {
    let request = AlterUserScramCredentialsRequest::default()
        .with_deletions(deletions)
        .with_upsertions(upsertions);
    let response: AlterUserScramCredentialsResponse = raw
        .call(ApiKey::AlterUserScramCredentials, 0, &request)
        .await;
    response
        .results
        .iter()
        .map(|r| {
            format!(
                "{}: {} {}",
                r.user.as_str(),
                r.error_code,
                r.error_message.as_deref().unwrap_or("")
            )
        })
        .collect()
}

/// Each user's result as `user: code message [mechanism/iterations...]`.
async fn describe(raw: &mut Raw, users: Option<&[&str]>) -> Vec<String> {
    let request = DescribeUserScramCredentialsRequest::default().with_users(users.map(|users| {
        users
            .iter()
            .map(|u| UserName::default().with_name(s(u)))
            .collect()
    }));
    let response: DescribeUserScramCredentialsResponse = raw
        .call(ApiKey::DescribeUserScramCredentials, 0, &request)
        .await;
    assert_eq!(response.error_code, 0);
    response
        .results
        .iter()
        .map(|r| {
            let infos: Vec<String> = r
                .credential_infos
                .iter()
                .map(|i| format!("{}/{}", i.mechanism, i.iterations))
                .collect();
            format!(
                "{}: {} {}[{}]",
                r.user.as_str(),
                r.error_code,
                r.error_message.as_deref().unwrap_or(""),
                infos.join(" ")
            )
        })
        .collect()
}

#[tokio::test]
async fn credentials_are_altered_and_described_with_kafkas_errors() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |_| {}).await;
    let mut raw = Raw::connect(&broker).await;
    assert_eq!(
        alter(
            &mut raw,
            vec![],
            vec![upsert("alice", SHA256, 4096), upsert("alice", SHA512, 8192)]
        )
        .await,
        ["alice: 0 "]
    );
    let not_found = ResponseError::ResourceNotFound.code();
    let duplicate = ResponseError::DuplicateResource.code();
    let unacceptable = ResponseError::UnacceptableCredential.code();
    let unsupported = ResponseError::UnsupportedSaslMechanism.code();
    assert_eq!(
        alter(
            &mut raw,
            vec![delete("carol", SHA256)],
            vec![
                upsert("bob", SHA256, 4095),
                upsert("dave", 0, 4096),
                upsert("erin", SHA512, 16385),
                upsert("", SHA512, 4096),
                upsert("frank", SHA256, 4096),
                upsert("frank", SHA256, 4096),
                upsert("grace", SHA256, 4096),
            ]
        )
        .await,
        [
            format!("carol: {not_found} Attempt to delete a user credential that does not exist"),
            format!("bob: {unacceptable} Too few iterations"),
            format!("dave: {unsupported} Unknown SCRAM mechanism"),
            format!("erin: {unacceptable} Too many iterations"),
            format!(": {unacceptable} Username must not be empty"),
            format!(
                "frank: {duplicate} A user credential cannot be altered twice in the same request"
            ),
            "grace: 0 ".to_owned(),
        ]
    );
    assert_eq!(
        describe(&mut raw, None).await,
        ["alice: 0 [1/4096 2/8192]", "grace: 0 [1/4096]"]
    );
    assert_eq!(
        describe(&mut raw, Some(&["grace", "nobody", "alice", "alice"])).await,
        [
            "grace: 0 [1/4096]".to_owned(),
            format!("nobody: {not_found} Attempt to describe a user credential that does not exist: nobody[]"),
            format!("alice: {duplicate} Cannot describe SCRAM credentials for the same user twice in a single request: alice[]"),
        ]
    );
    // Deleting the last credential removes the user.
    assert_eq!(
        alter(&mut raw, vec![delete("grace", SHA256)], vec![]).await,
        ["grace: 0 "]
    );
    assert_eq!(describe(&mut raw, None).await, ["alice: 0 [1/4096 2/8192]"]);
    broker.shutdown().await.unwrap();

    let broker = start(dir.path(), |_| {}).await;
    let mut raw = Raw::connect(&broker).await;
    assert_eq!(describe(&mut raw, None).await, ["alice: 0 [1/4096 2/8192]"]);
    let saved = std::fs::read_to_string(dir.path().join("scram-credentials.json")).unwrap();
    assert!(!saved.contains("secret"), "{saved}");
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn sasl_requests_on_a_listener_without_sasl_are_an_illegal_state() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), |_| {}).await;
    let mut raw = Raw::connect(&broker).await;
    let illegal = ResponseError::IllegalSaslState.code();
    let handshake: SaslHandshakeResponse = raw
        .call(
            ApiKey::SaslHandshake,
            1,
            &SaslHandshakeRequest::default().with_mechanism(s("SCRAM-SHA-512")),
        )
        .await;
    assert_eq!(handshake.error_code, illegal);
    let authenticate: SaslAuthenticateResponse = raw
        .call(
            ApiKey::SaslAuthenticate,
            2,
            &SaslAuthenticateRequest::default().with_auth_bytes(b"\0alice\0secret".to_vec().into()),
        )
        .await;
    assert_eq!(authenticate.error_code, illegal);
    broker.shutdown().await.unwrap();
}
