//! The `Server-Timing` syntax (`name;dur=<ms>, ...`) in which every kiln
//! component and the offload worker report their stages, and its parser,
//! used by the manifest's fan-out, the offload driver and the benchmarks.

use std::time::Duration;

/// `name;dur=<ms>, ...`, milliseconds with `decimals` places.
pub fn format<S: AsRef<str>>(stages: impl IntoIterator<Item = (S, Duration)>, decimals: usize) -> String {
    stages
        .into_iter()
        .map(|(name, d)| format!("{};dur={:.*}", name.as_ref(), decimals, d.as_secs_f64() * 1000.0))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every named entry of a `Server-Timing` value with its `dur` in ms, or
/// `None` when it has none (or an unparsable one). Entries without a name
/// are skipped.
pub fn parse(header: &str) -> Vec<(String, Option<f64>)> {
    header
        .split(',')
        .filter_map(|entry| {
            let mut params = entry.split(';').map(str::trim);
            let name = params.next().filter(|n| !n.is_empty())?;
            Some((name.to_string(), params.find_map(|p| p.strip_prefix("dur=")?.parse().ok())))
        })
        .collect()
}

/// The entries of [`parse`] that carry a duration.
pub fn durations(header: &str) -> impl Iterator<Item = (String, f64)> {
    parse(header).into_iter().filter_map(|(name, dur)| Some((name, dur?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        let header = format([("fetch", Duration::from_micros(1_500)), ("decode", Duration::from_millis(20))], 1);
        assert_eq!(header, "fetch;dur=1.5, decode;dur=20.0");
        assert_eq!(parse(&header), vec![("fetch".to_string(), Some(1.5)), ("decode".to_string(), Some(20.0))]);
        let odd = parse("cache;desc=hit, ;dur=1, x;desc=\"a\";dur=3.25, y;dur=nan?");
        assert_eq!(odd, vec![("cache".to_string(), None), ("x".to_string(), Some(3.25)), ("y".to_string(), None)]);
        assert_eq!(durations("a;dur=1, b").collect::<Vec<_>>(), vec![("a".to_string(), 1.0)]);
        // What the manifest's fan-out reads from a converter.
        let t: std::collections::BTreeMap<String, f64> =
            durations("fetch;dur=1.5, decode;dur=20, bad, webp-encode;desc=\"x\";dur=3.25, ;dur=1").collect();
        assert_eq!(t.len(), 3);
        assert_eq!(t["fetch"], 1.5);
        assert_eq!(t["decode"], 20.0);
        assert_eq!(t["webp-encode"], 3.25);
    }
}
