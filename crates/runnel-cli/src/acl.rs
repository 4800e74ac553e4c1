//! `runnel acl`: list, add and remove ACLs with DescribeAcls, CreateAcls and DeleteAcls, with
//! the options of `kafka-acls` (`--allow-principal`, `--deny-principal`, `--operation`,
//! `--topic`, `--group`, `--transactional-id`, `--cluster`, `--resource-pattern-type`).

use std::io::Write;

use clap::{Args, Subcommand};
use kafka_protocol::messages::{
    create_acls_request, delete_acls_request, ApiKey, CreateAclsRequest, CreateAclsResponse,
    DeleteAclsRequest, DeleteAclsResponse, DescribeAclsRequest, DescribeAclsResponse,
};
use kafka_protocol::protocol::{StrBytes, VersionRange};
use runnel_acl::filter::PatternFilter;
use runnel_acl::model::ANY_CODE;
use runnel_acl::{Operation, PatternType, Permission, ResourceType, CLUSTER_NAME, WILDCARD};

use crate::admin::{call, check_with_message, open, version};
use crate::format::Table;
use crate::{CliError, Connection};

const VERSIONS: VersionRange = VersionRange { min: 2, max: 3 };

#[derive(Debug, Args)]
pub struct AclArgs {
    #[command(flatten)]
    pub connection: Connection,
    #[command(subcommand)]
    pub command: AclCommand,
}

/// The resources a command is about (several may be given; none lists every ACL).
#[derive(Debug, Clone, Default, Args)]
pub struct ResourceArgs {
    /// A topic (`*` for every topic; repeatable).
    #[arg(long, value_name = "NAME")]
    pub topic: Vec<String>,
    /// A consumer or share group (`*` for every group; repeatable).
    #[arg(long, value_name = "ID")]
    pub group: Vec<String>,
    /// A transactional id (`*` for every one; repeatable).
    #[arg(long, value_name = "ID")]
    pub transactional_id: Vec<String>,
    /// The cluster.
    #[arg(long)]
    pub cluster: bool,
    /// How the names match: literal or prefixed; list also takes any and match (the ACLs
    /// that apply to the named resource). Default: literal, or any for list.
    #[arg(long, value_name = "TYPE")]
    pub resource_pattern_type: Option<String>,
}

/// Who the ACLs are for, and what they allow or deny.
#[derive(Debug, Clone, Default, Args)]
pub struct EntryArgs {
    /// A principal to allow, e.g. User:alice (`User:*` for everyone; repeatable).
    #[arg(long, value_name = "PRINCIPAL")]
    pub allow_principal: Vec<String>,
    /// A principal to deny (repeatable).
    #[arg(long, value_name = "PRINCIPAL")]
    pub deny_principal: Vec<String>,
    /// Hosts the allowed principals may connect from (default `*`; repeatable).
    #[arg(long, value_name = "IP")]
    pub allow_host: Vec<String>,
    /// Hosts the denied principals are denied from (default `*`; repeatable).
    #[arg(long, value_name = "IP")]
    pub deny_host: Vec<String>,
    /// Operations: Read, Write, Create, Delete, Alter, Describe, ClusterAction,
    /// DescribeConfigs, AlterConfigs, IdempotentWrite, All... (repeatable).
    #[arg(long, value_name = "OPERATION")]
    pub operation: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum AclCommand {
    /// List the ACLs of the resources given (of every resource when none is given).
    List {
        #[command(flatten)]
        resources: ResourceArgs,
        /// Only the ACLs of this principal.
        #[arg(long, value_name = "PRINCIPAL")]
        principal: Option<String>,
    },
    /// Add ACLs: each principal, host and operation given, on each resource given.
    Add {
        #[command(flatten)]
        resources: ResourceArgs,
        #[command(flatten)]
        entries: EntryArgs,
    },
    /// Remove those ACLs; with no principal given, every ACL of the resources.
    Remove {
        #[command(flatten)]
        resources: ResourceArgs,
        #[command(flatten)]
        entries: EntryArgs,
    },
}

pub fn run(args: &AclArgs, out: &mut impl Write) -> Result<(), CliError> {
    match &args.command {
        AclCommand::List {
            resources,
            principal,
        } => list(&args.connection, resources, principal.as_deref(), out),
        AclCommand::Add { resources, entries } => add(&args.connection, resources, entries, out),
        AclCommand::Remove { resources, entries } => {
            remove(&args.connection, resources, entries, out)
        }
    }
}

fn bad(message: impl Into<String>) -> CliError {
    CliError::BadArguments(message.into())
}

impl ResourceArgs {
    /// (type, name) of every resource named.
    fn resources(&self) -> Vec<(ResourceType, String)> {
        let named = |t: ResourceType, names: &[String]| {
            names
                .iter()
                .map(move |n| (t, n.clone()))
                .collect::<Vec<_>>()
        };
        let mut out = named(ResourceType::Topic, &self.topic);
        out.extend(named(ResourceType::Group, &self.group));
        out.extend(named(ResourceType::TransactionalId, &self.transactional_id));
        if self.cluster {
            out.push((ResourceType::Cluster, CLUSTER_NAME.to_owned()));
        }
        out
    }

    fn pattern_filter(&self, default: PatternFilter) -> Result<PatternFilter, CliError> {
        let Some(text) = &self.resource_pattern_type else {
            return Ok(default);
        };
        match text.to_ascii_lowercase().as_str() {
            "any" => Ok(PatternFilter::Any),
            "match" => Ok(PatternFilter::Match),
            other => PatternType::parse(other)
                .map(PatternFilter::Only)
                .ok_or_else(|| {
                    bad(format!(
                        "--resource-pattern-type {text}: expected literal, prefixed, any or match"
                    ))
                }),
        }
    }

    /// The pattern type of ACLs to add or remove: literal or prefixed only.
    fn pattern_type(&self) -> Result<PatternType, CliError> {
        match self.pattern_filter(PatternFilter::Only(PatternType::Literal))? {
            PatternFilter::Only(pattern) => Ok(pattern),
            _ => Err(bad(
                "--resource-pattern-type: ACLs are added and removed as literal or prefixed",
            )),
        }
    }
}

/// (principal, host, permission) of every entry the options describe.
fn entries(args: &EntryArgs) -> Vec<(String, String, Permission)> {
    let hosts = |hosts: &[String]| {
        if hosts.is_empty() {
            vec![WILDCARD.to_owned()]
        } else {
            hosts.to_vec()
        }
    };
    let mut out = Vec::new();
    for (principals, hosts, permission) in [
        (
            &args.allow_principal,
            hosts(&args.allow_host),
            Permission::Allow,
        ),
        (
            &args.deny_principal,
            hosts(&args.deny_host),
            Permission::Deny,
        ),
    ] {
        for principal in principals {
            for host in &hosts {
                out.push((principal.clone(), host.clone(), permission));
            }
        }
    }
    out
}

fn operations(args: &EntryArgs) -> Result<Vec<Operation>, CliError> {
    args.operation
        .iter()
        .flat_map(|list| list.split(','))
        .map(|name| {
            Operation::parse(name.trim())
                .ok_or_else(|| bad(format!("--operation {name}: not an ACL operation")))
        })
        .collect()
}

fn text(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

fn list(
    connection: &Connection,
    resources: &ResourceArgs,
    principal: Option<&str>,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let pattern = resources.pattern_filter(PatternFilter::Any)?;
    let named = resources.resources();
    // No resource named: every resource of every type.
    let filters: Vec<(Option<ResourceType>, Option<String>)> = if named.is_empty() {
        vec![(None, None)]
    } else {
        named.into_iter().map(|(t, n)| (Some(t), Some(n))).collect()
    };
    let action = "describe ACLs";
    let mut broker = open(connection, &connection.bootstrap_server)?;
    let version = version(&broker, ApiKey::DescribeAcls, VERSIONS, action)?;
    let mut table = Table::new(&[
        "RESOURCE-TYPE",
        "NAME",
        "PATTERN-TYPE",
        "PRINCIPAL",
        "HOST",
        "OPERATION",
        "PERMISSION",
    ]);
    for (resource_type, name) in filters {
        let request = DescribeAclsRequest::default()
            .with_resource_type_filter(resource_type.map_or(ANY_CODE, ResourceType::code))
            .with_resource_name_filter(name.as_deref().map(text))
            .with_pattern_type_filter(pattern.code())
            .with_principal_filter(principal.map(text))
            .with_host_filter(None)
            .with_operation(ANY_CODE)
            .with_permission_type(ANY_CODE);
        let response: DescribeAclsResponse =
            call(&mut broker, action, ApiKey::DescribeAcls, version, &request)?;
        check_with_message(
            action,
            response.error_code,
            response.error_message.as_deref(),
        )?;
        for resource in &response.resources {
            for acl in &resource.acls {
                table.row(vec![
                    name_of(ResourceType::from_code(resource.resource_type)),
                    resource.resource_name.to_string(),
                    name_of(PatternType::from_code(resource.pattern_type)),
                    acl.principal.to_string(),
                    acl.host.to_string(),
                    name_of(Operation::from_code(acl.operation)),
                    name_of(Permission::from_code(acl.permission_type)),
                ]);
            }
        }
    }
    table.write(out).map_err(CliError::Output)
}

fn name_of<T: std::fmt::Display>(value: Option<T>) -> String {
    value.map_or_else(|| "UNKNOWN".to_owned(), |v| v.to_string())
}

fn add(
    connection: &Connection,
    resources: &ResourceArgs,
    entry_args: &EntryArgs,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let pattern = resources.pattern_type()?;
    let named = resources.resources();
    let entries = entries(entry_args);
    let operations = operations(entry_args)?;
    if named.is_empty() || entries.is_empty() || operations.is_empty() {
        return Err(bad(
            "add needs a resource (--topic, --group, --transactional-id or --cluster), \
             a principal (--allow-principal or --deny-principal) and an --operation",
        ));
    }
    let mut creations = Vec::new();
    for (resource_type, name) in &named {
        for (principal, host, permission) in &entries {
            for operation in &operations {
                creations.push(
                    create_acls_request::AclCreation::default()
                        .with_resource_type(resource_type.code())
                        .with_resource_name(text(name))
                        .with_resource_pattern_type(pattern.code())
                        .with_principal(text(principal))
                        .with_host(text(host))
                        .with_operation(operation.code())
                        .with_permission_type(permission.code()),
                );
            }
        }
    }
    let count = creations.len();
    let action = "create ACLs";
    let mut broker = open(connection, &connection.bootstrap_server)?;
    let version = version(&broker, ApiKey::CreateAcls, VERSIONS, action)?;
    let request = CreateAclsRequest::default().with_creations(creations);
    let response: CreateAclsResponse =
        call(&mut broker, action, ApiKey::CreateAcls, version, &request)?;
    for result in &response.results {
        check_with_message(action, result.error_code, result.error_message.as_deref())?;
    }
    writeln!(out, "Added {count} ACL(s).").map_err(CliError::Output)
}

fn remove(
    connection: &Connection,
    resources: &ResourceArgs,
    entry_args: &EntryArgs,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let pattern = resources.pattern_type()?;
    let named = resources.resources();
    if named.is_empty() {
        return Err(bad(
            "remove needs a resource: --topic, --group, --transactional-id or --cluster",
        ));
    }
    let operations = operations(entry_args)?;
    let entries = entries(entry_args);
    let filter = |t: ResourceType, name: &str| {
        delete_acls_request::DeleteAclsFilter::default()
            .with_resource_type_filter(t.code())
            .with_resource_name_filter(Some(text(name)))
            .with_pattern_type_filter(pattern.code())
            .with_principal_filter(None)
            .with_host_filter(None)
            .with_operation(ANY_CODE)
            .with_permission_type(ANY_CODE)
    };
    let mut filters = Vec::new();
    for (resource_type, name) in &named {
        if entries.is_empty() {
            // As kafka-acls: no principal given removes every ACL of the resource, or
            // those of the operations given.
            if operations.is_empty() {
                filters.push(filter(*resource_type, name));
            }
            for operation in &operations {
                filters.push(filter(*resource_type, name).with_operation(operation.code()));
            }
            continue;
        }
        for (principal, host, permission) in &entries {
            let exact = filter(*resource_type, name)
                .with_principal_filter(Some(text(principal)))
                .with_host_filter(Some(text(host)))
                .with_permission_type(permission.code());
            if operations.is_empty() {
                filters.push(exact.clone());
            }
            for operation in &operations {
                filters.push(exact.clone().with_operation(operation.code()));
            }
        }
    }
    let action = "delete ACLs";
    let mut broker = open(connection, &connection.bootstrap_server)?;
    let version = version(&broker, ApiKey::DeleteAcls, VERSIONS, action)?;
    let request = DeleteAclsRequest::default().with_filters(filters);
    let response: DeleteAclsResponse =
        call(&mut broker, action, ApiKey::DeleteAcls, version, &request)?;
    let mut removed = 0;
    for result in &response.filter_results {
        check_with_message(action, result.error_code, result.error_message.as_deref())?;
        removed += result.matching_acls.len();
    }
    writeln!(out, "Removed {removed} ACL(s).").map_err(CliError::Output)
}
