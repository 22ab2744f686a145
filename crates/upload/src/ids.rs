//! Upload ids, write tokens and safe file names for original keys.

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn random_hex<const N: usize>() -> String {
    let mut bytes = [0u8; N];
    // Both the Spin host (wasi:random) and every native target provide it.
    getrandom::fill(&mut bytes).expect("the host provides randomness");
    hex(&bytes)
}

/// A random 128-bit upload id, hex-encoded.
pub fn new_id() -> String {
    random_hex::<16>()
}

/// A random 64-bit token naming one writer: a record revision, a lock or
/// lease owner, a chunk attempt.
pub fn nonce() -> String {
    random_hex::<8>()
}

/// True for ids [`new_id`] makes (so a path segment can be checked).
pub fn is_valid_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A client-supplied file name reduced to a safe last path segment of at
/// most 100 bytes: `[A-Za-z0-9._-]`, no leading dot; `fallback` if empty.
pub fn safe_filename(name: &str, fallback: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' })
        .collect();
    let trimmed = cleaned.trim_start_matches('.');
    let cut: String = trimmed.chars().take(100).collect();
    if cut.is_empty() { fallback.to_string() } else { cut }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_reduced_to_a_safe_segment() {
        assert_eq!(safe_filename("holiday photo.JPG", "x"), "holiday_photo.JPG");
        assert_eq!(safe_filename("../../etc/passwd", "x"), "passwd");
        assert_eq!(safe_filename("C:\\\\pics\\\\a.png", "x"), "a.png");
        assert_eq!(safe_filename("...", "image.jpg"), "image.jpg");
        assert_eq!(safe_filename("", "image.jpg"), "image.jpg");
        assert_eq!(safe_filename(&"a".repeat(300), "x").len(), 100);
    }

    #[test]
    fn ids_are_checked() {
        assert!(is_valid_id("0123456789abcdef0123456789abcdef"));
        assert!(!is_valid_id("../x"));
    }
}
