//! `runnel quota`: client quotas (`producer_byte_rate`, `consumer_byte_rate`,
//! `request_percentage`) per user and client id, read with DescribeClientQuotas and changed
//! with AlterClientQuotas, as `kafka-configs --entity-type users/clients` does.

use std::io::Write;

use clap::{Args, Subcommand};
use kafka_protocol::messages::{
    alter_client_quotas_request, describe_client_quotas_request, AlterClientQuotasRequest,
    AlterClientQuotasResponse, ApiKey, DescribeClientQuotasRequest, DescribeClientQuotasResponse,
};
use kafka_protocol::protocol::{StrBytes, VersionRange};

use crate::admin::{call, open, refused, version};
use crate::format::Table;
use crate::{parse_key_value, CliError, Connection};

const VERSIONS: VersionRange = VersionRange { min: 0, max: 1 };
/// DescribeClientQuotas match types.
const MATCH_EXACT: i8 = 0;
const MATCH_DEFAULT: i8 = 1;

#[derive(Debug, Args)]
pub struct QuotaArgs {
    #[command(flatten)]
    pub connection: Connection,
    #[command(subcommand)]
    pub command: QuotaCommand,
}

/// Which user and client id a command is about; flags left out leave that part out.
#[derive(Debug, Clone, Default, Args)]
pub struct EntityArgs {
    /// A user (principal name; ANONYMOUS without authentication).
    #[arg(long, value_name = "NAME", conflicts_with = "user_defaults")]
    pub user: Option<String>,
    /// The default for every user.
    #[arg(long)]
    pub user_defaults: bool,
    /// A client id.
    #[arg(long, value_name = "ID", conflicts_with = "client_defaults")]
    pub client: Option<String>,
    /// The default for every client id.
    #[arg(long)]
    pub client_defaults: bool,
}

#[derive(Debug, Subcommand)]
pub enum QuotaCommand {
    /// Show the quotas of the entity given, or of every entity when none is given.
    Describe {
        #[command(flatten)]
        entity: EntityArgs,
    },
    /// Set or remove quotas of one entity; quotas not named keep their values.
    Alter {
        #[command(flatten)]
        entity: EntityArgs,
        /// Quotas to set, e.g. producer_byte_rate=1048576,request_percentage=50 (repeatable).
        #[arg(long = "add-config", value_name = "KEY=VALUE,...")]
        add: Vec<String>,
        /// Quotas to remove, e.g. consumer_byte_rate (comma-separated, repeatable).
        #[arg(long = "delete-config", value_name = "KEY,...")]
        delete: Vec<String>,
    },
}

/// A component of an entity: its type and name, `None` for the default.
type Component = (&'static str, Option<String>);

impl EntityArgs {
    fn components(&self) -> Vec<Component> {
        let mut out = Vec::new();
        if self.user.is_some() || self.user_defaults {
            out.push(("user", self.user.clone()));
        }
        if self.client.is_some() || self.client_defaults {
            out.push(("client-id", self.client.clone()));
        }
        out
    }
}

pub fn run(args: &QuotaArgs, out: &mut impl Write) -> Result<(), CliError> {
    match &args.command {
        QuotaCommand::Describe { entity } => describe(&args.connection, entity, out),
        QuotaCommand::Alter {
            entity,
            add,
            delete,
        } => alter(&args.connection, entity, add, delete, out),
    }
}

fn describe(
    connection: &Connection,
    entity: &EntityArgs,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let action = "describe client quotas";
    let mut broker = open(connection, &connection.bootstrap_server)?;
    let version = version(&broker, ApiKey::DescribeClientQuotas, VERSIONS, action)?;
    let components: Vec<_> = entity
        .components()
        .into_iter()
        .map(|(kind, name)| {
            describe_client_quotas_request::ComponentData::default()
                .with_entity_type(StrBytes::from_static_str(kind))
                .with_match_type(if name.is_some() {
                    MATCH_EXACT
                } else {
                    MATCH_DEFAULT
                })
                .with_match(name.map(StrBytes::from_string))
        })
        .collect();
    // An entity given is described alone; none given lists every entity.
    let strict = !components.is_empty();
    let request = DescribeClientQuotasRequest::default()
        .with_components(components)
        .with_strict(strict);
    let response: DescribeClientQuotasResponse = call(
        &mut broker,
        action,
        ApiKey::DescribeClientQuotas,
        version,
        &request,
    )?;
    refused(
        action,
        response.error_code,
        response.error_message.as_deref(),
    )?;
    let mut table = Table::new(&["USER", "CLIENT-ID", "QUOTA", "VALUE"]);
    for entry in response.entries.unwrap_or_default() {
        let name_of = |kind: &str| {
            entry
                .entity
                .iter()
                .find(|c| c.entity_type.as_str() == kind)
                .map_or_else(
                    || "-".to_owned(),
                    |c| {
                        c.entity_name
                            .as_deref()
                            .map_or_else(|| "<default>".to_owned(), str::to_owned)
                    },
                )
        };
        for value in &entry.values {
            table.row(vec![
                name_of("user"),
                name_of("client-id"),
                value.key.to_string(),
                value.value.to_string(),
            ]);
        }
    }
    table.write(out).map_err(CliError::Output)
}

fn alter(
    connection: &Connection,
    entity: &EntityArgs,
    add: &[String],
    delete: &[String],
    out: &mut impl Write,
) -> Result<(), CliError> {
    let components = entity.components();
    if components.is_empty() {
        return Err(CliError::BadArguments(
            "name an entity: --user, --user-defaults, --client or --client-defaults".to_owned(),
        ));
    }
    let mut ops = Vec::new();
    for pair in add.iter().flat_map(|list| list.split(',')) {
        let (key, value) = parse_key_value("--add-config", pair)?;
        let value: f64 = value.trim().parse().map_err(|_| {
            CliError::BadArguments(format!("--add-config {key}: {value:?} is not a number"))
        })?;
        ops.push(
            alter_client_quotas_request::OpData::default()
                .with_key(StrBytes::from_string(key))
                .with_value(value),
        );
    }
    for key in delete.iter().flat_map(|list| list.split(',')) {
        ops.push(
            alter_client_quotas_request::OpData::default()
                .with_key(StrBytes::from_string(key.trim().to_owned()))
                .with_remove(true),
        );
    }
    if ops.is_empty() {
        return Err(CliError::BadArguments(
            "nothing to change: give --add-config or --delete-config".to_owned(),
        ));
    }
    let action = "alter client quotas";
    let mut broker = open(connection, &connection.bootstrap_server)?;
    let version = version(&broker, ApiKey::AlterClientQuotas, VERSIONS, action)?;
    let described = describe_entity(&components);
    let entity = components
        .into_iter()
        .map(|(kind, name)| {
            alter_client_quotas_request::EntityData::default()
                .with_entity_type(StrBytes::from_static_str(kind))
                .with_entity_name(name.map(StrBytes::from_string))
        })
        .collect();
    let request = AlterClientQuotasRequest::default().with_entries(vec![
        alter_client_quotas_request::EntryData::default()
            .with_entity(entity)
            .with_ops(ops),
    ]);
    let response: AlterClientQuotasResponse = call(
        &mut broker,
        action,
        ApiKey::AlterClientQuotas,
        version,
        &request,
    )?;
    for entry in &response.entries {
        refused(action, entry.error_code, entry.error_message.as_deref())?;
    }
    writeln!(out, "Altered the quotas of {described}.").map_err(CliError::Output)
}

/// `user alice, client-id <default>`, for messages.
fn describe_entity(components: &[Component]) -> String {
    let parts: Vec<String> = components
        .iter()
        .map(|(kind, name)| format!("{kind} {}", name.as_deref().unwrap_or("<default>")))
        .collect();
    parts.join(", ")
}
