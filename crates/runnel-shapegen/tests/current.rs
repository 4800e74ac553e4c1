//! The committed walkers are exactly what the generator makes of the pinned kafka-protocol:
//! after a kafka-protocol upgrade this fails until `cargo run -p runnel-shapegen` is run.

use std::path::Path;

#[test]
fn committed_walkers_are_current() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let source = runnel_shapegen::Source::locate(&workspace).expect("kafka-protocol found");
    let generated = runnel_shapegen::generate(&source).expect("walkers generated");
    let committed = std::fs::read_to_string(workspace.join(runnel_shapegen::OUTPUT))
        .expect("committed walkers read");
    assert!(
        committed == generated,
        "{} is stale: run `cargo run -p runnel-shapegen`",
        runnel_shapegen::OUTPUT
    );
}
