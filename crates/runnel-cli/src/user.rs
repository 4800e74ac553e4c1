//! `runnel user`: SASL/SCRAM users, listed with DescribeUserScramCredentials and changed with
//! AlterUserScramCredentials, as `kafka-configs --entity-type users --alter --add-config
//! 'SCRAM-SHA-512=[password=...]'` does. As Kafka's admin client, the password is salted
//! and hashed here: only the salted password leaves this process, and the broker keeps only
//! what SCRAM needs.

use std::io::{BufRead, Write};

use clap::{Args, Subcommand};
use kafka_protocol::messages::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use kafka_protocol::messages::describe_user_scram_credentials_request::UserName;
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse, ApiKey,
    DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse,
};
use kafka_protocol::protocol::{StrBytes, VersionRange};
use runnel_auth::ScramMechanism;

use crate::admin::{call, check_with_message, open, version};
use crate::format::Table;
use crate::{CliError, Connection};

const VERSIONS: VersionRange = VersionRange { min: 0, max: 0 };
/// Salt length, as Kafka's `ScramFormatter` makes them.
const SALT_BYTES: usize = 32;

#[derive(Debug, Args)]
pub struct UserArgs {
    #[command(flatten)]
    pub connection: Connection,
    #[command(subcommand)]
    pub command: UserCommand,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// List every user with SCRAM credentials, its mechanisms and iteration counts.
    List,
    /// Show the mechanisms and iteration counts of the users named.
    Describe {
        #[arg(required = true)]
        users: Vec<String>,
    },
    /// Create a user or change its password, for SCRAM-SHA-256 and SCRAM-SHA-512 unless
    /// --mechanism says which (PLAIN checks the same credential). The password is read
    /// from standard input's first line unless --password gives it.
    SetPassword {
        user: String,
        /// SCRAM-SHA-256 or SCRAM-SHA-512 (repeatable; default both).
        #[arg(long = "mechanism", value_name = "MECHANISM")]
        mechanisms: Vec<String>,
        /// PBKDF2 rounds, 4096 to 16384 (Kafka's bounds).
        #[arg(long, default_value_t = ScramMechanism::MIN_ITERATIONS)]
        iterations: u32,
        /// The password (visible to other local users in the process list: prefer stdin).
        #[arg(long)]
        password: Option<String>,
    },
    /// Delete a user's credentials, for every mechanism unless --mechanism says which.
    Delete {
        user: String,
        #[arg(long = "mechanism", value_name = "MECHANISM")]
        mechanisms: Vec<String>,
    },
}

pub fn run(
    args: &UserArgs,
    input: &mut impl BufRead,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let connection = &args.connection;
    match &args.command {
        UserCommand::List => {
            let users = describe(connection, None)?;
            print(&users, out)
        }
        UserCommand::Describe { users } => {
            let users = describe(connection, Some(users))?;
            print(&users, out)
        }
        UserCommand::SetPassword {
            user,
            mechanisms,
            iterations,
            password,
        } => {
            let mechanisms = parse_mechanisms(mechanisms)?;
            let password = match password {
                Some(password) => password.clone(),
                None => read_password(input)?,
            };
            let upsertions = mechanisms
                .iter()
                .map(|&mechanism| upsertion(user, mechanism, *iterations, &password))
                .collect::<Result<Vec<_>, _>>()?;
            alter(connection, Vec::new(), upsertions)?;
            let names: Vec<&str> = mechanisms.iter().map(|m| m.name()).collect();
            writeln!(out, "Set the password of {user} for {}.", names.join(", "))
                .map_err(CliError::Output)
        }
        UserCommand::Delete { user, mechanisms } => {
            let mechanisms = if mechanisms.is_empty() {
                // Every mechanism the user has: deleting one it lacks is refused.
                let described = describe(connection, Some(std::slice::from_ref(user)))?;
                described.into_iter().map(|(_, m, _)| m).collect()
            } else {
                parse_mechanisms(mechanisms)?
            };
            let deletions = mechanisms
                .iter()
                .map(|m| {
                    ScramCredentialDeletion::default()
                        .with_name(StrBytes::from_string(user.clone()))
                        .with_mechanism(m.kafka_type())
                })
                .collect();
            alter(connection, deletions, Vec::new())?;
            writeln!(out, "Deleted the credentials of {user}.").map_err(CliError::Output)
        }
    }
}

/// Users, mechanisms and iteration counts: of `users`, or of everyone.
fn describe(
    connection: &Connection,
    users: Option<&[String]>,
) -> Result<Vec<(String, ScramMechanism, i32)>, CliError> {
    let action = "describe SCRAM users";
    let mut broker = open(connection, &connection.bootstrap_server)?;
    let version = version(
        &broker,
        ApiKey::DescribeUserScramCredentials,
        VERSIONS,
        action,
    )?;
    let request = DescribeUserScramCredentialsRequest::default().with_users(users.map(|users| {
        users
            .iter()
            .map(|u| UserName::default().with_name(StrBytes::from_string(u.clone())))
            .collect()
    }));
    let response: DescribeUserScramCredentialsResponse = call(
        &mut broker,
        action,
        ApiKey::DescribeUserScramCredentials,
        version,
        &request,
    )?;
    check_with_message(
        action,
        response.error_code,
        response.error_message.as_deref(),
    )?;
    let mut described = Vec::new();
    for result in response.results {
        check_with_message(action, result.error_code, result.error_message.as_deref())?;
        for info in result.credential_infos {
            // A mechanism this client does not know is left out rather than misnamed.
            if let Some(mechanism) = ScramMechanism::from_kafka_type(info.mechanism) {
                described.push((result.user.to_string(), mechanism, info.iterations));
            }
        }
    }
    Ok(described)
}

fn print(users: &[(String, ScramMechanism, i32)], out: &mut impl Write) -> Result<(), CliError> {
    let mut table = Table::new(&["USER", "MECHANISM", "ITERATIONS"]);
    for (user, mechanism, iterations) in users {
        table.row(vec![
            user.clone(),
            mechanism.name().to_owned(),
            iterations.to_string(),
        ]);
    }
    table.write(out).map_err(CliError::Output)
}

fn alter(
    connection: &Connection,
    deletions: Vec<ScramCredentialDeletion>,
    upsertions: Vec<ScramCredentialUpsertion>,
) -> Result<(), CliError> {
    let action = "alter SCRAM users";
    let mut broker = open(connection, &connection.bootstrap_server)?;
    let version = version(&broker, ApiKey::AlterUserScramCredentials, VERSIONS, action)?;
    let request = AlterUserScramCredentialsRequest::default()
        .with_deletions(deletions)
        .with_upsertions(upsertions);
    let response: AlterUserScramCredentialsResponse = call(
        &mut broker,
        action,
        ApiKey::AlterUserScramCredentials,
        version,
        &request,
    )?;
    for result in &response.results {
        check_with_message(action, result.error_code, result.error_message.as_deref())?;
    }
    Ok(())
}

/// The credential change for `password`, salted with fresh random bytes.
fn upsertion(
    user: &str,
    mechanism: ScramMechanism,
    iterations: u32,
    password: &str,
) -> Result<ScramCredentialUpsertion, CliError> {
    let mut salt = [0u8; SALT_BYTES];
    getrandom::fill(&mut salt)
        .map_err(|e| CliError::BadArguments(format!("no randomness for a salt: {e}")))?;
    let salted = mechanism.salted_password(password.as_bytes(), &salt, iterations);
    Ok(ScramCredentialUpsertion::default()
        .with_name(StrBytes::from_string(user.to_owned()))
        .with_mechanism(mechanism.kafka_type())
        .with_iterations(i32::try_from(iterations).unwrap_or(i32::MAX))
        .with_salt(salt.to_vec().into())
        .with_salted_password(salted.into()))
}

fn parse_mechanisms(names: &[String]) -> Result<Vec<ScramMechanism>, CliError> {
    if names.is_empty() {
        return Ok(ScramMechanism::ALL.to_vec());
    }
    names
        .iter()
        .map(|name| {
            ScramMechanism::from_name(name.trim()).ok_or_else(|| {
                CliError::BadArguments(format!(
                    "--mechanism {name:?}: expected SCRAM-SHA-256 or SCRAM-SHA-512"
                ))
            })
        })
        .collect()
}

fn read_password(input: &mut impl BufRead) -> Result<String, CliError> {
    let mut line = String::new();
    input
        .read_line(&mut line)
        .map_err(|e| CliError::BadArguments(format!("cannot read the password: {e}")))?;
    let password = line.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        return Err(CliError::BadArguments(
            "empty password: give it on standard input or with --password".to_owned(),
        ));
    }
    Ok(password.to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use runnel_auth::ScramCredential;

    #[test]
    fn the_request_carries_a_fresh_salt_and_the_password_salted_with_it() {
        let first = upsertion("alice", ScramMechanism::Sha512, 4096, "secret").unwrap();
        let second = upsertion("alice", ScramMechanism::Sha512, 4096, "secret").unwrap();
        assert_ne!(first.salt, second.salt);
        assert_eq!(first.salt.len(), SALT_BYTES);
        assert_eq!((first.mechanism, first.iterations), (2, 4096));
        let credential = ScramCredential::from_salted_password(
            ScramMechanism::Sha512,
            &first.salt,
            4096,
            &first.salted_password,
        );
        assert!(credential.matches_password(ScramMechanism::Sha512, b"secret"));
        assert!(!String::from_utf8_lossy(&first.salted_password).contains("secret"));
    }

    #[test]
    fn passwords_and_mechanisms_are_read_as_documented() {
        let mut input = &b"s3cret\r\nnext line\n"[..];
        assert_eq!(read_password(&mut input).unwrap(), "s3cret");
        assert!(read_password(&mut &b"\n"[..]).is_err());
        assert_eq!(parse_mechanisms(&[]).unwrap(), ScramMechanism::ALL.to_vec());
        assert_eq!(
            parse_mechanisms(&["SCRAM-SHA-256".to_owned()]).unwrap(),
            vec![ScramMechanism::Sha256]
        );
        let error = parse_mechanisms(&["PLAIN".to_owned()]).unwrap_err();
        assert!(error.to_string().contains("PLAIN"), "{error}");
    }
}
