//! Helpers shared by the core's integration tests: where the corpus is.

use std::path::PathBuf;

/// The shared test corpus: `$KILN_CORPUS`, else `../shared/corpus` beside
/// the repository (where CI and developers have it).
pub fn corpus() -> PathBuf {
    if let Ok(dir) = std::env::var("KILN_CORPUS") {
        return PathBuf::from(dir);
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    assert!(root.is_dir(), "test corpus not found at {} (set KILN_CORPUS)", root.display());
    root
}

pub fn read(rel: &str) -> Vec<u8> {
    let path = corpus().join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
