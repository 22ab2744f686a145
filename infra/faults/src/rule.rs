//! Fault rules: what a request must look like (method, path, query, header)
//! and what to do to it, plus the ordered rule list that hands out the first
//! live match and counts down each rule's `times`.

use hyper::HeaderMap;
use serde::{Deserialize, Serialize};

/// What the proxy does to a request that matches a rule.
///
/// In JSON the variant is the `type` field, in snake case:
/// `{"type":"status","code":503}`, `{"type":"delay","ms":200}`,
/// `{"type":"stall"}`, `{"type":"stall","max_ms":5000}`, `{"type":"drop"}`,
/// `{"type":"lose_response"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Answer with this status without forwarding. `body` defaults to an
    /// S3-style XML error (content-type `application/xml`); a code outside
    /// 200..=599 is answered as 500.
    Status {
        code: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<String>,
    },
    /// Wait `ms` milliseconds, then forward normally.
    Delay { ms: u64 },
    /// Hold the request until [`crate::Proxy::release_all`] (or
    /// `POST /__faults/release`), or until `max_ms` has passed if set, then
    /// forward it. A client that gives up while held is never forwarded.
    Stall {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_ms: Option<u64>,
    },
    /// Close the client connection without an answer; nothing is forwarded.
    Drop,
    /// Forward, wait for the whole upstream response (the store did the
    /// work), then close the client connection without an answer.
    LoseResponse,
}

impl Action {
    /// `Status` with the default S3-style XML body.
    pub fn status(code: u16) -> Self {
        Action::Status { code, body: None }
    }

    /// `Stall` until released, with no time limit.
    pub fn stall() -> Self {
        Action::Stall { max_ms: None }
    }

    /// The short name recorded in [`crate::Seen::action`], e.g. `status 503`.
    pub fn label(&self) -> String {
        match self {
            Action::Status { code, .. } => format!("status {code}"),
            Action::Delay { ms } => format!("delay {ms}ms"),
            Action::Stall { max_ms: None } => "stall".to_owned(),
            Action::Stall { max_ms: Some(ms) } => format!("stall max {ms}ms"),
            Action::Drop => "drop".to_owned(),
            Action::LoseResponse => "lose_response".to_owned(),
        }
    }
}

/// One fault rule: all the filters that are set must match.
///
/// JSON: `{"method":"PUT","path":"variants/","query":"partNumber=",
/// "header":"x-amz-copy-source","times":2,"action":{"type":"status","code":503}}`;
/// every field but `action` may be left out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// HTTP method, compared case-insensitively.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Substring of the path, tried on the percent-decoded and the raw path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Substring of the query string (raw or decoded), e.g. `uploadId=`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// A header name that must be present (case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// How many more requests this rule applies to; `None` is forever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    /// What to do to a matching request.
    pub action: Action,
}

impl Rule {
    /// A rule that applies `action` to every request, forever.
    pub fn new(action: Action) -> Self {
        Rule { method: None, path: None, query: None, header: None, times: None, action }
    }

    /// Only requests with this method.
    pub fn method(mut self, method: &str) -> Self {
        self.method = Some(method.to_owned());
        self
    }

    /// Only requests whose path (decoded or raw) contains `part`.
    pub fn path(mut self, part: &str) -> Self {
        self.path = Some(part.to_owned());
        self
    }

    /// Only requests whose query string contains `part`.
    pub fn query(mut self, part: &str) -> Self {
        self.query = Some(part.to_owned());
        self
    }

    /// Only requests that carry the header `name`.
    pub fn header(mut self, name: &str) -> Self {
        self.header = Some(name.to_owned());
        self
    }

    /// Apply to the next `n` matching requests only.
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    /// Rejects rules that cannot do what they say (used by the control API).
    pub fn check(&self) -> Result<(), String> {
        match &self.action {
            Action::Status { code, .. } if !(200..=599).contains(code) => {
                Err(format!("status code {code} is not in 200..=599"))
            }
            _ => Ok(()),
        }
    }

    /// Whether every filter that is set matches `req`.
    pub(crate) fn matches(&self, req: &Target<'_>) -> bool {
        let method = self.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(req.method));
        let path = self.path.as_deref().is_none_or(|p| req.path.contains(p) || req.raw_path.contains(p));
        let query = self.query.as_deref().is_none_or(|q| req.query.contains(q) || req.decoded_query.contains(q));
        let header = self.header.as_deref().is_none_or(|h| req.headers.contains_key(h.trim()));
        method && path && query && header
    }
}

/// The parts of a request that rules look at.
pub(crate) struct Target<'a> {
    pub method: &'a str,
    pub raw_path: &'a str,
    pub path: String,
    pub query: &'a str,
    pub decoded_query: String,
    pub headers: &'a HeaderMap,
}

impl<'a> Target<'a> {
    /// Reads the request line and headers of `parts`.
    pub(crate) fn of(parts: &'a hyper::http::request::Parts) -> Self {
        let raw_path = parts.uri.path();
        let query = parts.uri.query().unwrap_or("");
        Target {
            method: parts.method.as_str(),
            raw_path,
            path: percent_decode(raw_path),
            query,
            decoded_query: percent_decode(query),
            headers: &parts.headers,
        }
    }
}

/// Decodes `%XX` escapes; malformed escapes are kept as they are and invalid
/// UTF-8 is replaced, so this never fails.
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (other, _) => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The ordered rule list; the first live match wins.
#[derive(Debug, Default)]
pub(crate) struct Rules {
    list: Vec<Rule>,
}

impl Rules {
    /// Appends a rule (one with `times: Some(0)` would never match: ignored).
    pub(crate) fn push(&mut self, rule: Rule) {
        if rule.times != Some(0) {
            self.list.push(rule);
        }
    }

    /// The action of the first rule matching `req`, counting down its `times`
    /// and removing it once used up.
    pub(crate) fn take_match(&mut self, req: &Target<'_>) -> Option<Action> {
        let index = self.list.iter().position(|rule| rule.matches(req))?;
        let rule = &mut self.list[index];
        let action = rule.action.clone();
        if let Some(left) = &mut rule.times {
            *left = left.saturating_sub(1);
            if *left == 0 {
                self.list.remove(index);
            }
        }
        Some(action)
    }

    /// Removes every rule; returns how many there were.
    pub(crate) fn clear(&mut self) -> usize {
        std::mem::take(&mut self.list).len()
    }

    /// The live rules, with their remaining `times`.
    pub(crate) fn list(&self) -> Vec<Rule> {
        self.list.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decode_keeps_malformed_escapes() {
        assert_eq!(percent_decode("/b/a%20b%2Fc"), "/b/a b/c");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%C3%A9"), "é");
    }

    #[test]
    fn rule_json_round_trips_and_rejects_typos() {
        let json = r#"{"method":"PUT","path":"variants/","times":2,"action":{"type":"status","code":503}}"#;
        let rule: Rule = serde_json::from_str(json).unwrap();
        assert_eq!(rule, Rule::new(Action::status(503)).method("PUT").path("variants/").times(2));
        assert_eq!(serde_json::to_string(&rule).unwrap(), json);
        assert!(serde_json::from_str::<Rule>(r#"{"pth":"x","action":{"type":"drop"}}"#).is_err());
        assert!(serde_json::from_str::<Rule>(r#"{"action":{"type":"delay","millis":5}}"#).is_err());
        let stall: Rule = serde_json::from_str(r#"{"action":{"type":"stall"}}"#).unwrap();
        assert_eq!(stall.action, Action::stall());
    }
}
