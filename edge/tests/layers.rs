//! The edge's layers import downwards only: the Socket.IO layer (`src/socketio`) names nothing of
//! the link or of the modules that put the edge together, and the link nothing of the latter.
//! Read from the sources, since the modules share one crate.

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).expect("a source folder") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out
}

/// The places in `files` that name one of `modules` (as `crate::module`).
fn naming(files: &[PathBuf], modules: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f).expect("a readable source");
        for (n, line) in text.lines().enumerate() {
            for m in modules {
                let at = format!("crate::{m}");
                if line.match_indices(&at).any(|(i, _)| {
                    !line[i + at.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
                }) {
                    found.push(format!("{}:{}: {}", f.display(), n + 1, line.trim()));
                }
            }
        }
    }
    found
}

/// The modules that put the edge together (its state, HTTP routes, admin, scraping).
const TOP: [&str; 6] = ["edge", "http", "admin", "emit", "scrape", "run"];
/// The link to a core.
const LINK: [&str; 4] = ["link", "relink", "owed", "connector"];

#[test]
fn the_socketio_layer_names_neither_the_link_nor_the_top() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let upward: Vec<&str> = TOP.iter().chain(&LINK).copied().collect();
    let found = naming(&sources(&root.join("socketio")), &upward);
    assert!(found.is_empty(), "upward imports:\n{}", found.join("\n"));
}

#[test]
fn the_link_names_nothing_of_the_top() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files: Vec<PathBuf> = LINK.iter().map(|m| root.join(format!("{m}.rs"))).collect();
    let found = naming(&files, &TOP);
    assert!(found.is_empty(), "upward imports:\n{}", found.join("\n"));
}
