//! S3 event notification records in the AWS format (`{"Records":[...]}`),
//! as S3 sends them to SNS/SQS/Lambda, so kiln's webhook can parse either.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use time::OffsetDateTime;

/// Which S3 operation created the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventName {
    Put,
    CompleteMultipartUpload,
    Copy,
}

impl EventName {
    /// The AWS `eventName`, e.g. `ObjectCreated:Put`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Put => "ObjectCreated:Put",
            Self::CompleteMultipartUpload => "ObjectCreated:CompleteMultipartUpload",
            Self::Copy => "ObjectCreated:Copy",
        }
    }
}

/// One created object, as the store saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectCreated {
    pub name: EventName,
    pub bucket: String,
    /// The raw (decoded) key.
    pub key: String,
    pub size: u64,
    /// The ETag without quotes.
    pub e_tag: String,
}

/// Fields of a record that are fixed for the whole process.
#[derive(Debug, Clone)]
pub struct EventSource {
    pub region: String,
    /// Principal reported as `userIdentity` and bucket owner.
    pub principal: String,
}

/// Hands out strictly increasing, AWS-like hex sequencers.
#[derive(Debug)]
pub struct Sequencer(AtomicU64);

impl Sequencer {
    /// Starts at the current time in nanoseconds, so values also grow across restarts.
    pub fn new() -> Self {
        Self::after(None)
    }

    /// Starts at the current time in nanoseconds or just after `last` (the
    /// highest value already handed out, e.g. found in the spool), whichever
    /// is larger: values keep growing even if the clock went back.
    pub fn after(last: Option<u64>) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX / 2));
        Self(AtomicU64::new(last.map_or(nanos, |last| nanos.max(last.saturating_add(1)))))
    }

    /// The next sequencer value.
    pub fn next(&self) -> u64 {
        self.0.fetch_add(1, Ordering::Relaxed)
    }

    /// The next sequencer, 16 upper-case hex digits.
    pub fn next_hex(&self) -> String {
        sequencer_hex(self.next())
    }
}

/// A sequencer value as S3 writes it: 16 upper-case hex digits, so that
/// string order is numeric order.
pub fn sequencer_hex(value: u64) -> String {
    format!("{value:016X}")
}

impl Default for Sequencer {
    fn default() -> Self {
        Self::new()
    }
}

/// The notification body for one created object.
pub fn record_json(ev: &ObjectCreated, src: &EventSource, at: OffsetDateTime, sequencer: &str) -> Value {
    json!({ "Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": src.region,
        "eventTime": format_event_time(at),
        "eventName": ev.name.as_str(),
        "userIdentity": { "principalId": src.principal },
        "requestParameters": { "sourceIPAddress": "127.0.0.1" },
        "responseElements": {},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "kiln-store",
            "bucket": {
                "name": ev.bucket,
                "ownerIdentity": { "principalId": src.principal },
                "arn": format!("arn:aws:s3:::{}", ev.bucket),
            },
            "object": {
                "key": encode_key(&ev.key),
                "size": ev.size,
                "eTag": ev.e_tag,
                "sequencer": sequencer,
            },
        },
    }]})
}

/// RFC 3339 UTC with milliseconds, e.g. `2024-05-01T12:34:56.789Z`.
pub fn format_event_time(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    )
}

/// URL-encodes a key the way S3 events do: form encoding (space as `+`),
/// keeping `/` and the unreserved characters.
pub fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => out.push(char::from(b)),
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_form_encoded_keeping_slashes() {
        assert_eq!(encode_key("originals/a b.jpg"), "originals/a+b.jpg");
        assert_eq!(encode_key("x/a+b=c&d.png"), "x/a%2Bb%3Dc%26d.png");
        assert_eq!(encode_key("é"), "%C3%A9");
    }

    #[test]
    fn event_time_has_millis() {
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789).unwrap();
        assert_eq!(format_event_time(at), "2023-11-14T22:13:20.123Z");
    }

    #[test]
    fn sequencer_increases() {
        let seq = Sequencer::new();
        let (a, b) = (seq.next_hex(), seq.next_hex());
        assert_eq!(a.len(), 16);
        assert!(b > a);
    }

    #[test]
    fn sequencer_resumes_after_the_last_value() {
        let far = u64::MAX / 2;
        assert_eq!(Sequencer::after(Some(far)).next(), far + 1);
        let now = Sequencer::new().next();
        assert!(Sequencer::after(Some(5)).next() >= now);
        assert_eq!(sequencer_hex(0xAB), "00000000000000AB");
    }

    #[test]
    fn record_has_aws_shape() {
        let ev = ObjectCreated {
            name: EventName::Put,
            bucket: "kiln".into(),
            key: "originals/a b.jpg".into(),
            size: 3,
            e_tag: "abc".into(),
        };
        let src = EventSource { region: "us-east-1".into(), principal: "kiln".into() };
        let v = record_json(&ev, &src, OffsetDateTime::UNIX_EPOCH, "0A");
        let r = &v["Records"][0];
        assert_eq!(r["eventName"], "ObjectCreated:Put");
        assert_eq!(r["eventTime"], "1970-01-01T00:00:00.000Z");
        assert_eq!(r["s3"]["bucket"]["arn"], "arn:aws:s3:::kiln");
        assert_eq!(r["s3"]["object"]["key"], "originals/a+b.jpg");
        assert_eq!(r["s3"]["object"]["size"], 3);
        assert_eq!(r["s3"]["object"]["sequencer"], "0A");
    }
}
