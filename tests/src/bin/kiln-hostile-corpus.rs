//! Writes the hostile corpus (`kiln_e2e::hostile`) into a folder, with its
//! INDEX.md: `cargo run -p kiln-e2e --bin kiln-hostile-corpus -- tests/hostile`.

use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "tests/hostile".into()));
    match kiln_e2e::hostile::write_corpus(&dir) {
        Ok(cases) => {
            let bytes: usize = cases.iter().map(|c| c.bytes.len()).sum();
            println!("wrote {} files ({bytes} bytes) and INDEX.md to {}", cases.len(), dir.display());
        }
        Err(e) => {
            eprintln!("kiln-hostile-corpus: writing {}: {e}", dir.display());
            std::process::exit(1);
        }
    }
}
