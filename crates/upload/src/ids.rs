//! Upload ids, write tokens and safe file names for original keys.

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

std::thread_local! {
    /// A SplitMix64 state when [`seed_for_tests`] was called on this thread.
    static SEEDED: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
}

/// Tests only: from now on, ids and nonces made on this thread are a
/// sequence fixed by `seed` (`None`: random again), so a property test's
/// failing seed replays the same run (ids order the sweep's work, and with
/// it the interleaving). Never call it in a server: ids would be guessable.
#[doc(hidden)]
pub fn seed_for_tests(seed: Option<u64>) {
    SEEDED.with(|s| s.set(seed));
}

fn seeded(bytes: &mut [u8]) -> bool {
    SEEDED.with(|s| {
        let Some(mut state) = s.get() else { return false };
        for chunk in bytes.chunks_mut(8) {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
        s.set(Some(state));
        true
    })
}

fn random_hex<const N: usize>() -> String {
    let mut bytes = [0u8; N];
    if !seeded(&mut bytes) {
        // Both the Spin host (wasi:random) and every native target provide it.
        getrandom::fill(&mut bytes).expect("the host provides randomness");
    }
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
    fn seeded_ids_replay_and_differ_from_each_other() {
        let run = |seed| {
            seed_for_tests(Some(seed));
            let ids = (new_id(), nonce(), nonce());
            seed_for_tests(None);
            ids
        };
        let (a, b) = (run(7), run(7));
        assert_eq!(a, b);
        assert_ne!(a.1, a.2);
        assert!(is_valid_id(&a.0));
        assert_ne!(run(8), a);
        assert_ne!(new_id(), new_id(), "random again");
    }

    #[test]
    fn ids_are_checked() {
        assert!(is_valid_id("0123456789abcdef0123456789abcdef"));
        assert!(!is_valid_id("../x"));
    }
}
