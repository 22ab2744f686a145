//! Stage timings in the Server-Timing syntax (`name;dur=<ms>, ...`) and the
//! process's peak resident set size, both sent in response metadata.

use std::time::Duration;

/// Named stage durations, in the order they were recorded.
#[derive(Debug, Clone, Default)]
pub struct Timings(Vec<(String, Duration)>);

impl Timings {
    pub fn push(&mut self, name: impl Into<String>, duration: Duration) {
        self.0.push((name.into(), duration));
    }

    pub fn extend(&mut self, other: Timings) {
        self.0.extend(other.0);
    }

    /// `name;dur=12.345, ...` with milliseconds to the microsecond.
    pub fn header(&self) -> String {
        kiln_core::timing::format(self.0.iter().map(|(name, d)| (name.as_str(), *d)), 3)
    }
}

/// Parses a Server-Timing value into `(name, milliseconds)` pairs; entries
/// without a `dur` parameter are kept with 0.
pub fn parse_server_timing(value: &str) -> Vec<(String, f64)> {
    kiln_core::timing::parse(value).into_iter().map(|(name, dur)| (name, dur.unwrap_or(0.0))).collect()
}

/// The process's peak resident set size (`VmHWM` of /proc/self/status), in
/// bytes; `None` where procfs is missing.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_through_the_parser() {
        let mut t = Timings::default();
        t.push("store_original", Duration::from_micros(12_345));
        t.push("webp-encode", Duration::from_millis(7));
        assert_eq!(t.header(), "store_original;dur=12.345, webp-encode;dur=7.000");
        let parsed = parse_server_timing(&t.header());
        assert_eq!(parsed, vec![("store_original".to_string(), 12.345), ("webp-encode".to_string(), 7.0)]);
        assert_eq!(parse_server_timing("cache;desc=hit, db;dur=3"), vec![("cache".into(), 0.0), ("db".into(), 3.0)]);
    }

    #[test]
    fn peak_rss_is_read_from_procfs() {
        let before = peak_rss_bytes().expect("VmHWM");
        let big = vec![1u8; 64 << 20];
        std::hint::black_box(&big);
        let after = peak_rss_bytes().expect("VmHWM");
        assert!(after >= before + (60 << 20), "{before} -> {after}");
    }
}
