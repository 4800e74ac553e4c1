//! `cargo run -p runnel-shapegen` rewrites `runnel-broker`'s request walkers from the pinned
//! kafka-protocol; `--check` only reports whether the committed file is current.

use std::path::Path;

use anyhow::{bail, Context};

fn main() -> anyhow::Result<()> {
    let check = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("--check") => true,
        Some(other) => bail!("runnel-shapegen: unknown argument {other} (only --check)"),
    };
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let source = runnel_shapegen::Source::locate(&workspace)?;
    let generated = runnel_shapegen::generate(&source)?;
    let output = workspace.join(runnel_shapegen::OUTPUT);
    if check {
        let committed = std::fs::read_to_string(&output)
            .with_context(|| format!("reading {}", output.display()))?;
        if committed != generated {
            bail!(
                "{} is not what kafka-protocol {} generates; run `cargo run -p runnel-shapegen`",
                runnel_shapegen::OUTPUT,
                source.version
            );
        }
        println!("{} is current", runnel_shapegen::OUTPUT);
    } else {
        std::fs::write(&output, generated)
            .with_context(|| format!("writing {}", output.display()))?;
        println!(
            "wrote {} from kafka-protocol {}",
            runnel_shapegen::OUTPUT,
            source.version
        );
    }
    Ok(())
}
