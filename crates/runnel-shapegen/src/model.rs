//! What the generator reads from kafka-protocol's sources: the API keys with their request
//! modules, and for each request module its structs' fields and decode bodies.

use std::collections::BTreeMap;
use std::path::Path;

use crate::GenError;

/// One API key and the module of its request type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Api {
    /// The `ApiKey` variant, e.g. `Produce`.
    pub variant: String,
    /// The request type's module, e.g. `produce_request`.
    pub module: String,
}

/// A struct with a `Decodable` implementation.
pub struct Message {
    pub name: String,
    pub fields: BTreeMap<String, syn::Type>,
    pub decode: syn::Block,
}

pub fn parse(path: &Path) -> Result<syn::File, GenError> {
    let text = std::fs::read_to_string(path).map_err(|source| GenError::Read {
        path: path.to_owned(),
        source,
    })?;
    syn::parse_file(&text).map_err(|source| GenError::Parse {
        path: path.to_owned(),
        source,
    })
}

/// The variants of `messages::ApiKey`, each documented as "API key for request XRequest".
pub fn api_keys(messages: &syn::File) -> Result<Vec<Api>, GenError> {
    let api_key = messages
        .items
        .iter()
        .find_map(|item| match item {
            syn::Item::Enum(e) if e.ident == "ApiKey" => Some(e),
            _ => None,
        })
        .ok_or_else(|| unsupported("messages.rs", "no enum ApiKey"))?;
    api_key
        .variants
        .iter()
        .map(|variant| {
            let request = doc(&variant.attrs)
                .and_then(|doc| {
                    doc.trim()
                        .strip_prefix("API key for request ")
                        .map(str::to_owned)
                })
                .ok_or_else(|| {
                    unsupported("ApiKey", &format!("{} names no request", variant.ident))
                })?;
            Ok(Api {
                variant: variant.ident.to_string(),
                module: snake_case(&request),
            })
        })
        .collect()
}

/// The structs of a request module that implement `Decodable`, in the file's order.
pub fn messages(file: &syn::File) -> Vec<Message> {
    let mut fields: BTreeMap<String, BTreeMap<String, syn::Type>> = BTreeMap::new();
    for item in &file.items {
        if let syn::Item::Struct(s) = item {
            let named = s
                .fields
                .iter()
                .filter_map(|field| Some((field.ident.as_ref()?.to_string(), field.ty.clone())));
            fields.insert(s.ident.to_string(), named.collect());
        }
    }
    file.items
        .iter()
        .filter_map(|item| {
            let syn::Item::Impl(imp) = item else {
                return None;
            };
            let (_, trait_path, _) = imp.trait_.as_ref()?;
            if trait_path.segments.last()?.ident != "Decodable" {
                return None;
            }
            let syn::Type::Path(self_ty) = &*imp.self_ty else {
                return None;
            };
            let name = self_ty.path.segments.last()?.ident.to_string();
            let decode = imp.items.iter().find_map(|item| match item {
                syn::ImplItem::Fn(f) if f.sig.ident == "decode" => Some(f.block.clone()),
                _ => None,
            })?;
            Some(Message {
                fields: fields.remove(&name).unwrap_or_default(),
                name,
                decode,
            })
        })
        .collect()
}

fn doc(attrs: &[syn::Attribute]) -> Option<String> {
    attrs.iter().find_map(|attr| {
        let syn::Meta::NameValue(nv) = &attr.meta else {
            return None;
        };
        if !nv.path.is_ident("doc") {
            return None;
        }
        match &nv.value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) => Some(s.value()),
            _ => None,
        }
    })
}

/// `ProduceRequest` → `produce_request`.
pub fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

pub fn unsupported(message: &str, what: &str) -> GenError {
    GenError::Unsupported {
        message: message.to_owned(),
        what: what.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_splits_on_capitals() {
        assert_eq!(snake_case("ProduceRequest"), "produce_request");
        assert_eq!(
            snake_case("OffsetForLeaderEpochRequest"),
            "offset_for_leader_epoch_request"
        );
    }
}
