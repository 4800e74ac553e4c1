//! The ACL file's format (pinned by a byte-exact test; described in the crate README): a JSON
//! object with the format `version` and the `acls`, one object per binding, in the
//! authorizer's order.

use serde::{Deserialize, Serialize};

use crate::authorizer::{Authorizer, MAX_ACLS};
use crate::model::{AclBinding, AclError};

/// The version of the format [`render`] writes and [`parse`] reads.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AclFile {
    version: u32,
    acls: Vec<AclBinding>,
}

/// The file's bytes for the bindings of `authorizer`.
pub fn render(authorizer: &Authorizer) -> Vec<u8> {
    let file = AclFile {
        version: FORMAT_VERSION,
        acls: authorizer.bindings().cloned().collect(),
    };
    // Plain strings and enums always serialise.
    let mut text = serde_json::to_vec_pretty(&file).unwrap_or_default();
    text.push(b'\n');
    text
}

/// Adds the bindings of a file's `bytes` to `authorizer`, each validated as a new ACL is.
pub fn parse(bytes: &[u8], authorizer: &mut Authorizer) -> Result<(), AclError> {
    let file: AclFile =
        serde_json::from_slice(bytes).map_err(|e| AclError::Invalid(e.to_string()))?;
    if file.version != FORMAT_VERSION {
        return Err(AclError::Invalid(format!(
            "format version {} (this version reads {FORMAT_VERSION})",
            file.version
        )));
    }
    if file.acls.len() > MAX_ACLS {
        return Err(AclError::Invalid(format!("more than {MAX_ACLS} ACLs")));
    }
    for binding in file.acls {
        authorizer.add(binding)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::model::{Operation, PatternType, Permission, ResourcePattern, ResourceType};

    #[test]
    fn the_format_is_pinned_and_reads_back() {
        let mut authorizer = Authorizer::default();
        authorizer
            .add(AclBinding {
                pattern: ResourcePattern {
                    resource_type: ResourceType::Topic,
                    pattern_type: PatternType::Prefixed,
                    name: "orders-".to_owned(),
                },
                principal: "User:alice".to_owned(),
                host: "*".to_owned(),
                operation: Operation::Read,
                permission: Permission::Allow,
            })
            .unwrap();
        authorizer
            .add(AclBinding {
                pattern: ResourcePattern {
                    resource_type: ResourceType::Cluster,
                    pattern_type: PatternType::Literal,
                    name: "kafka-cluster".to_owned(),
                },
                principal: "User:*".to_owned(),
                host: "10.0.0.1".to_owned(),
                operation: Operation::DescribeConfigs,
                permission: Permission::Deny,
            })
            .unwrap();
        let text = String::from_utf8(render(&authorizer)).unwrap();
        let expected = r#"{
  "version": 1,
  "acls": [
    {
      "resource_type": "TOPIC",
      "pattern_type": "PREFIXED",
      "name": "orders-",
      "principal": "User:alice",
      "host": "*",
      "operation": "READ",
      "permission": "ALLOW"
    },
    {
      "resource_type": "CLUSTER",
      "pattern_type": "LITERAL",
      "name": "kafka-cluster",
      "principal": "User:*",
      "host": "10.0.0.1",
      "operation": "DESCRIBE_CONFIGS",
      "permission": "DENY"
    }
  ]
}
"#;
        assert_eq!(text, expected);
        let mut read = Authorizer::default();
        parse(text.as_bytes(), &mut read).unwrap();
        assert_eq!(
            read.bindings().collect::<Vec<_>>(),
            authorizer.bindings().collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_damaged_file_is_refused_with_a_reason() {
        let mut authorizer = Authorizer::default();
        let err =
            |text: &str, a: &mut Authorizer| parse(text.as_bytes(), a).unwrap_err().to_string();
        assert!(err(r#"{"version": 2, "acls": []}"#, &mut authorizer).contains("version 2"));
        assert!(err("{", &mut authorizer).contains("EOF"));
        let bad_cluster = r#"{"version": 1, "acls": [{"resource_type": "CLUSTER",
            "pattern_type": "LITERAL", "name": "c", "principal": "User:a", "host": "*",
            "operation": "ALTER", "permission": "ALLOW"}]}"#;
        assert!(err(bad_cluster, &mut authorizer).contains("kafka-cluster"));
    }
}
