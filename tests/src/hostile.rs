//! The hostile corpus: small crafted images that attack kiln's decoders —
//! dimension and frame bombs, decompression and metadata bombs, APNG and
//! animated WebP tricks, files truncated at every structural boundary,
//! wrong magic bytes, 16-bit and CMYK edge cases, 0×0 and 1×N images —
//! each with a one-line description and the answers kiln may give.
//!
//! [`all`] is a pure function: the same source always yields the same
//! bytes (the encoders are pinned in Cargo.lock; compressed bombs and
//! hand-framed files are written byte by byte in `hostile/bits.rs`).
//! `kiln-hostile-corpus` writes it to `tests/hostile/` with `INDEX.md`,
//! and a unit test below keeps the committed files equal to it.
//! `tests/tests/hostile_corpus.rs` sends every file to every converter
//! and through a tus upload under `spin up`; docs/security.md describes it.

mod bits;
mod gif;
mod jpeg;
mod png;
mod webp;

use std::fmt::Write as _;
use std::path::Path;

/// What a file attacks; INDEX.md groups the files by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Control,
    DimensionBomb,
    FrameBomb,
    MetadataBomb,
    Apng,
    Truncated,
    WrongMagic,
    DepthAndColor,
    TinyAndThin,
    Malformed,
}

impl Kind {
    pub fn title(self) -> &'static str {
        match self {
            Kind::Control => "Controls: the valid files the truncations are cut from",
            Kind::DimensionBomb => "Dimension bombs",
            Kind::FrameBomb => "Frame bombs and frames outside the canvas",
            Kind::MetadataBomb => "Chunk, metadata and decompression bombs",
            Kind::Apng => "APNG",
            Kind::Truncated => "Truncated at a structural boundary",
            Kind::WrongMagic => "Wrong magic bytes",
            Kind::DepthAndColor => "16-bit, low bit depth, CMYK and other colour edge cases",
            Kind::TinyAndThin => "0×0, 1×1 and 1×N images",
            Kind::Malformed => "Malformed structure",
        }
    }
}

/// One answer kiln may give to a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Answer {
    /// 200 and a correct image.
    Image,
    /// 413 `too_large`.
    TooLarge,
    /// 415 `unsupported_media_type`.
    Unsupported,
    /// 422 `corrupt_image`.
    Corrupt,
    /// 400 `bad_request`: a request kiln refuses before looking at the bytes.
    BadRequest,
}

impl Answer {
    pub fn status(self) -> u16 {
        match self {
            Answer::Image => 200,
            Answer::TooLarge => 413,
            Answer::Unsupported => 415,
            Answer::Corrupt => 422,
            Answer::BadRequest => 400,
        }
    }

    /// The JSON `error` code of a refusal.
    pub fn code(self) -> Option<&'static str> {
        match self {
            Answer::Image => None,
            Answer::TooLarge => Some("too_large"),
            Answer::Unsupported => Some("unsupported_media_type"),
            Answer::Corrupt => Some("corrupt_image"),
            Answer::BadRequest => Some("bad_request"),
        }
    }

    /// The answer an HTTP status stands for, if it is one of these.
    pub fn from_status(status: u16) -> Option<Answer> {
        [Answer::Image, Answer::TooLarge, Answer::Unsupported, Answer::Corrupt, Answer::BadRequest].into_iter().find(|a| a.status() == status)
    }

    pub fn label(self) -> String {
        match self.code() {
            None => "image".into(),
            Some(code) => format!("{} {code}", self.status()),
        }
    }
}

/// One file of the corpus.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub kind: Kind,
    /// What the file is and what kiln should answer, in one line.
    pub description: String,
    /// The answers kiln may give, the preferred one first. Any other
    /// answer — above all a 5xx or an empty body — is a bug.
    pub expect: &'static [Answer],
    pub bytes: Vec<u8>,
}

impl Case {
    /// "image", "413 too_large", "image or 422 corrupt_image", ...
    pub fn expected(&self) -> String {
        self.expect.iter().map(|a| a.label()).collect::<Vec<_>>().join(" or ")
    }

    pub fn allows(&self, answer: Answer) -> bool {
        self.expect.contains(&answer)
    }
}

pub(crate) fn case(kind: Kind, name: &str, expect: &'static [Answer], description: &str, bytes: Vec<u8>) -> Case {
    Case { name: name.into(), kind, description: description.into(), expect, bytes }
}

/// A place to cut a valid file: its name, the byte count kept, the answers
/// due and what the kept part holds.
pub(crate) struct Cut {
    name: String,
    at: usize,
    expect: &'static [Answer],
    what: String,
}

impl Cut {
    pub(crate) fn new(name: impl Into<String>, at: usize, expect: &'static [Answer], what: impl Into<String>) -> Cut {
        Cut { name: name.into(), at, expect, what: what.into() }
    }
}

/// `<prefix>-cut-<cut>.<ext of base_name>` for each cut of `bytes`.
pub(crate) fn cut_cases(base_name: &str, prefix: &str, bytes: &[u8], cuts: Vec<Cut>) -> Vec<Case> {
    let ext = base_name.rsplit('.').next().unwrap_or("bin");
    cuts.into_iter()
        .map(|cut| {
            assert!(cut.at < bytes.len(), "{prefix} cut {} at {} is not a truncation", cut.name, cut.at);
            Case {
                name: format!("{prefix}-cut-{}.{ext}", cut.name),
                kind: Kind::Truncated,
                description: format!("{base_name} cut to its first {} of {} bytes: {}", cut.at, bytes.len(), cut.what),
                expect: cut.expect,
                bytes: bytes[..cut.at].to_vec(),
            }
        })
        .collect()
}

/// Files that belong to no one format.
fn other_cases() -> Vec<Case> {
    use Answer::*;
    vec![
        case(Kind::WrongMagic, "empty.bin", &[Unsupported, BadRequest], "zero bytes: 415 (an empty body is no image), or 400 where tus refuses Upload-Length 0 at creation; never a hang", Vec::new()),
        case(Kind::WrongMagic, "html-named-png.png", &[Unsupported], "an HTML page named .png: 415, from the content, not the name", b"<!doctype html><html><body><img src=x onerror=alert(1)></body></html>\n".to_vec()),
    ]
}

/// Every file of the corpus, grouped by kind, then by name.
pub fn all() -> Vec<Case> {
    let mut out: Vec<Case> = [png::cases(), gif::cases(), webp::cases(), jpeg::cases(), other_cases()].concat();
    out.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
    let names: std::collections::HashSet<&str> = out.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names.len(), out.len(), "corpus file names are unique");
    out
}

/// The corpus' INDEX.md: how it is made, then one table per kind.
pub fn index_markdown(cases: &[Case]) -> String {
    let mut out = String::from(
        "# The hostile corpus\n\n\
         Generated by `tests/src/hostile.rs`; do not edit by hand. Regenerate with\n\
         `cargo run -p kiln-e2e --bin kiln-hostile-corpus -- tests/hostile`.\n\
         `cargo test -p kiln-e2e --lib hostile` fails when these files and the\n\
         generator disagree; `tests/tests/hostile_corpus.rs` sends every file to the\n\
         four converters and through a tus upload under `spin up`.\n\n\
         *Expected* lists the answers kiln may give, the preferred first; any other\n\
         answer, a 5xx or an empty body is a bug. See docs/security.md.\n",
    );
    let mut kinds: Vec<Kind> = cases.iter().map(|c| c.kind).collect();
    kinds.dedup();
    for kind in kinds {
        let group: Vec<&Case> = cases.iter().filter(|c| c.kind == kind).collect();
        let _ = write!(out, "\n## {} ({})\n\n| file | bytes | expected | what it is |\n|---|---:|---|---|\n", kind.title(), group.len());
        for c in group {
            let _ = writeln!(out, "| `{}` | {} | {} | {} |", c.name, c.bytes.len(), c.expected(), c.description.replace('|', "\\|"));
        }
    }
    out
}

/// Writes every file and INDEX.md into `dir`, and removes files there that
/// the generator no longer makes (only in a folder it wrote before).
pub fn write_corpus(dir: &Path) -> std::io::Result<Vec<Case>> {
    let cases = all();
    std::fs::create_dir_all(dir)?;
    let ours = std::fs::read_to_string(dir.join("INDEX.md")).is_ok_and(|t| t.starts_with("# The hostile corpus\n"));
    if ours {
        for stale in stale_files(dir, &cases)? {
            std::fs::remove_file(dir.join(stale))?;
        }
    }
    for c in &cases {
        std::fs::write(dir.join(&c.name), &c.bytes)?;
    }
    std::fs::write(dir.join("INDEX.md"), index_markdown(&cases))?;
    Ok(cases)
}

/// Files in `dir` that are neither a corpus file nor INDEX.md.
pub fn stale_files(dir: &Path, cases: &[Case]) -> std::io::Result<Vec<String>> {
    let mut stale = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name != "INDEX.md" && !cases.iter().any(|c| c.name == name) {
            stale.push(name);
        }
    }
    stale.sort();
    Ok(stale)
}

#[cfg(test)]
mod tests;
