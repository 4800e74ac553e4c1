//! Generates `runnel-broker`'s request walkers (`src/shape/requests.rs`) from the decoders
//! kafka-protocol generates, so the walkers follow every kafka-protocol upgrade by running
//! one command instead of by hand.
//!
//! The broker walks each request body before kafka-protocol decodes it (see the `shape`
//! module of `runnel-broker` for why). A walker must read exactly what the decoder reads, so
//! it is derived from the decoder itself: this crate parses the pinned kafka-protocol's
//! `messages/*_request.rs` with `syn` and translates each `Decodable::decode` body statement
//! by statement into walker calls. Anything in a decoder it does not recognise stops the
//! generation with an error naming the message, rather than producing a walker that might
//! disagree with the decoder.

mod model;
mod translate;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

pub use model::Api;

/// Where the generated file lives, relative to the workspace root.
pub const OUTPUT: &str = "crates/runnel-broker/src/shape/requests.rs";

#[derive(Debug, thiserror::Error)]
pub enum GenError {
    #[error("cargo metadata: {0}")]
    Metadata(String),
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("parsing {path}: {source}")]
    Parse { path: PathBuf, source: syn::Error },
    #[error("{message}: {what}")]
    Unsupported { message: String, what: String },
    #[error("rustfmt: {0}")]
    Format(String),
}

/// The kafka-protocol sources the workspace's lock file pins.
#[derive(Debug, Clone)]
pub struct Source {
    pub version: String,
    pub root: PathBuf,
}

impl Source {
    /// Finds kafka-protocol through `cargo metadata --locked`, run in `workspace`.
    pub fn locate(workspace: &Path) -> Result<Source, GenError> {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let output = Command::new(cargo)
            .args(["metadata", "--locked", "--format-version", "1"])
            .current_dir(workspace)
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| GenError::Metadata(e.to_string()))?;
        if !output.status.success() {
            return Err(GenError::Metadata(format!("exited with {}", output.status)));
        }
        let metadata: serde_json::Value = serde_json::from_slice(&output.stdout)
            .map_err(|e| GenError::Metadata(e.to_string()))?;
        let packages = metadata["packages"].as_array().into_iter().flatten();
        let mut found = packages.filter(|p| p["name"] == "kafka-protocol");
        let (Some(package), None) = (found.next(), found.next()) else {
            return Err(GenError::Metadata(
                "expected exactly one kafka-protocol package".to_owned(),
            ));
        };
        let manifest = package["manifest_path"].as_str().unwrap_or_default();
        let root = Path::new(manifest)
            .parent()
            .ok_or_else(|| GenError::Metadata(format!("bad manifest path {manifest:?}")))?;
        Ok(Source {
            version: package["version"].as_str().unwrap_or_default().to_owned(),
            root: root.to_owned(),
        })
    }
}

/// The whole generated file, formatted by rustfmt.
pub fn generate(source: &Source) -> Result<String, GenError> {
    let messages = source.root.join("src").join("messages");
    let apis = model::api_keys(&model::parse(&source.root.join("src").join("messages.rs"))?)?;
    let mut modules = Vec::new();
    for api in &apis {
        let path = messages.join(format!("{}.rs", api.module));
        let file = model::parse(&path)?;
        modules.push(translate::module(api, &model::messages(&file))?);
    }
    let arms = apis.iter().map(|api| {
        let variant = format_ident!("{}", api.variant);
        let module = format_ident!("{}", api.module);
        quote! { ApiKey::#variant => #module::#module(w, version), }
    });
    let walk: TokenStream = quote! {
        pub(super) fn walk(api: ApiKey, version: i16, w: &mut Walker<'_>) -> Result<(), ShapeError> {
            match api {
                #(#arms)*
            }
        }
    };
    let header = format!(
        "//! Request walkers, one per request struct, generated from kafka-protocol {}'s decoders\n\
         //! by `cargo run -p runnel-shapegen`; do not edit. A test of `runnel-shapegen` fails\n\
         //! when this file differs from what the generator makes of the pinned kafka-protocol.\n\n\
         use kafka_protocol::messages::ApiKey;\n\n\
         use super::{{ShapeError, Walker}};\n\n\
         /// Walks a request body of `api` at `version` exactly as kafka-protocol decodes it.\n",
        source.version
    );
    rustfmt(&format!("{header}{walk}\n\n{}\n", modules.join("\n\n")))
}

fn rustfmt(code: &str) -> Result<String, GenError> {
    use std::io::Write;
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2021", "--emit", "stdout"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| GenError::Format(e.to_string()))?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| GenError::Format("no stdin".to_owned()))?;
    let input = code.to_owned();
    // Written from another thread: rustfmt may fill its stdout pipe before reading all input.
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child
        .wait_with_output()
        .map_err(|e| GenError::Format(e.to_string()))?;
    writer
        .join()
        .map_err(|_| GenError::Format("writer thread failed".to_owned()))?
        .map_err(|e| GenError::Format(e.to_string()))?;
    if !output.status.success() {
        return Err(GenError::Format(
            String::from_utf8_lossy(&output.stderr).into_owned(),
        ));
    }
    String::from_utf8(output.stdout).map_err(|e| GenError::Format(e.to_string()))
}
