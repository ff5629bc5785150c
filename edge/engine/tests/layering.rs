//! The layering the compiler keeps: the Engine.IO crate depends on no other herald crate than the
//! codec, and the edge on no core crate beyond the index, the protocol and auth. Read from
//! the workspace's manifests through `cargo metadata --no-deps` (offline).

use std::collections::{BTreeSet, HashMap};
use std::process::Command;

use serde_json::Value;

/// Every workspace package name and the herald crates it depends on, directly or not.
fn herald_dependencies() -> HashMap<String, BTreeSet<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");
    // Normal (non-dev, non-build) dependencies of each workspace package, by name: only workspace
    // packages can depend on a herald crate.
    let mut direct: HashMap<String, Vec<String>> = HashMap::new();
    for p in meta["packages"].as_array().expect("packages") {
        let Some(name) = p["name"].as_str() else {
            continue;
        };
        let deps = p["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| d["kind"].is_null())
            .filter_map(|d| d["name"].as_str().map(str::to_owned))
            .collect();
        direct.insert(name.to_owned(), deps);
    }
    let mut all = HashMap::new();
    for name in direct.keys().filter(|n| n.starts_with("herald-")) {
        let mut seen = BTreeSet::new();
        let mut todo = vec![name.clone()];
        while let Some(n) = todo.pop() {
            for d in direct.get(&n).into_iter().flatten() {
                if seen.insert(d.clone()) {
                    todo.push(d.clone());
                }
            }
        }
        seen.retain(|d| d.starts_with("herald-"));
        all.insert(name.clone(), seen);
    }
    all
}

#[test]
fn the_engine_depends_on_no_herald_crate_but_the_codec_and_the_edge_on_no_core_crate() {
    let deps = herald_dependencies();
    let engine = deps
        .get("herald-engine")
        .expect("herald-engine is in the workspace");
    assert_eq!(
        engine.iter().map(String::as_str).collect::<Vec<_>>(),
        ["herald-codec"],
        "herald-engine must know nothing of Socket.IO, the link or a core"
    );
    let edge = deps
        .get("herald-edge")
        .expect("herald-edge is in the workspace");
    let allowed = [
        "herald-auth",
        "herald-codec",
        "herald-engine",
        "herald-index",
        "herald-proto",
    ];
    let extra: Vec<&String> = edge
        .iter()
        .filter(|d| !allowed.contains(&d.as_str()))
        .collect();
    assert!(
        extra.is_empty(),
        "herald-edge depends on core crates: {extra:?}"
    );
    assert!(edge.contains("herald-engine"));
}
