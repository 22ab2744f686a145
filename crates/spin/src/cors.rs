//! CORS for browsers that call the upload API from another origin (an
//! upload page on the customer's own site). Which origins may do so is the
//! `cors_allowed_origins` variable: a comma-separated list of exact origins
//! (`https://app.example.com`), `*` for any, empty (the default) for none.
//!
//! A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`)
//! is answered here, without auth, as browsers send it without credentials.
//! Every other answer to an allowed origin carries
//! `Access-Control-Allow-Origin` and exposes every header a tus client
//! reads (`Location`, `Upload-Offset`, ...): without the expose list a
//! browser hides them from JavaScript, the most common tus-in-the-browser
//! failure in peers' trackers.

use crate::http::ApiError;

/// Methods the upload API answers.
pub const ALLOW_METHODS: &str = "GET, HEAD, POST, PATCH, DELETE, OPTIONS";
/// Request headers a browser client may send.
pub const ALLOW_HEADERS: &str = "Authorization, Content-Type, Tus-Resumable, Upload-Length, Upload-Offset, Upload-Metadata, \
     Upload-Defer-Length, Upload-Concat, Upload-Checksum, X-HTTP-Method-Override, X-Requested-With";
/// Response headers a browser client may read.
pub const EXPOSE_HEADERS: &str = "Location, Upload-Offset, Upload-Length, Upload-Expires, Upload-Metadata, Upload-Defer-Length, \
     Upload-Concat, Tus-Resumable, Tus-Version, Tus-Extension, Tus-Max-Size, Tus-Checksum-Algorithm, Retry-After, Server-Timing";
/// How long a browser may cache a preflight, in seconds.
pub const MAX_AGE_SECONDS: u32 = 86_400;

/// The origins allowed to call the API from a browser.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CorsPolicy {
    any: bool,
    origins: Vec<String>,
}

impl CorsPolicy {
    /// Parses the `cors_allowed_origins` variable. Each entry must be an
    /// origin as browsers send it: `scheme://host` or `scheme://host:port`,
    /// no path, no trailing slash.
    pub fn parse(list: &str) -> Result<CorsPolicy, String> {
        let mut policy = CorsPolicy::default();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if entry == "*" {
                policy.any = true;
                continue;
            }
            let Some((scheme, host)) = entry.split_once("://") else {
                return Err(format!("{entry:?} is not an origin (scheme://host[:port])"));
            };
            if !matches!(scheme, "http" | "https") || host.is_empty() || host.contains('/') {
                return Err(format!("{entry:?} is not an origin (scheme://host[:port], no path or trailing slash)"));
            }
            policy.origins.push(entry.to_ascii_lowercase());
        }
        Ok(policy)
    }

    /// Whether CORS is on at all.
    pub fn is_enabled(&self) -> bool {
        self.any || !self.origins.is_empty()
    }

    pub fn allows(&self, origin: &str) -> bool {
        self.any || self.origins.iter().any(|o| o.eq_ignore_ascii_case(origin))
    }

    /// The answer to a preflight from `origin`: its headers (204), or why
    /// the origin is refused (403).
    pub fn preflight(&self, origin: &str) -> Result<Vec<(&'static str, String)>, ApiError> {
        if !self.allows(origin) {
            let why = if self.is_enabled() {
                format!("origin {origin:?} is not in cors_allowed_origins")
            } else {
                "CORS is off: set the cors_allowed_origins variable to allow browser origins".to_string()
            };
            return Err(ApiError::new(403, "cors_origin_not_allowed", why));
        }
        let mut headers = self.response_headers(Some(origin));
        headers.extend([
            ("access-control-allow-methods", ALLOW_METHODS.to_string()),
            ("access-control-allow-headers", ALLOW_HEADERS.to_string()),
            ("access-control-max-age", MAX_AGE_SECONDS.to_string()),
        ]);
        Ok(headers)
    }

    /// Headers for an answer to a request from `origin` (none when the
    /// origin is absent or not allowed; `Vary: Origin` whenever CORS is on,
    /// so caches keep answers to different origins apart).
    pub fn response_headers(&self, origin: Option<&str>) -> Vec<(&'static str, String)> {
        let mut headers = Vec::new();
        if self.is_enabled() {
            headers.push(("vary", "Origin".to_string()));
        }
        if let Some(origin) = origin.filter(|o| self.allows(o)) {
            headers.push(("access-control-allow-origin", origin.to_string()));
            headers.push(("access-control-expose-headers", EXPOSE_HEADERS.to_string()));
        }
        headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists_of_origins_and_the_wildcard() {
        let p = CorsPolicy::parse(" https://app.example.com, http://localhost:5173 ").unwrap();
        assert!(p.allows("https://app.example.com") && p.allows("HTTPS://APP.example.com") && p.allows("http://localhost:5173"));
        assert!(!p.allows("https://evil.example.com") && !p.allows("http://localhost:5174") && !p.allows("null"));
        assert!(CorsPolicy::parse("*").unwrap().allows("https://anything.test"));
        let off = CorsPolicy::parse("").unwrap();
        assert!(!off.is_enabled() && !off.allows("https://app.example.com"));
        for bad in ["app.example.com", "https://app.example.com/", "https://app.example.com/page", "ftp://x", "https://"] {
            assert!(CorsPolicy::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn preflight_lists_what_tus_needs_and_refuses_other_origins() {
        let p = CorsPolicy::parse("https://app.example.com").unwrap();
        let headers = p.preflight("https://app.example.com").unwrap();
        let get = |name: &str| headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str());
        assert_eq!(get("access-control-allow-origin"), Some("https://app.example.com"));
        assert!(get("access-control-allow-methods").unwrap().contains("PATCH"));
        for h in ["Authorization", "Tus-Resumable", "Upload-Offset", "Upload-Length", "Upload-Metadata"] {
            assert!(get("access-control-allow-headers").unwrap().contains(h), "{h}");
        }
        for h in ["Location", "Upload-Offset", "Upload-Length", "Upload-Expires", "Tus-Resumable"] {
            assert!(get("access-control-expose-headers").unwrap().contains(h), "{h}");
        }
        assert_eq!(p.preflight("https://evil.example.com").unwrap_err().status, 403);
        assert!(p.response_headers(Some("https://evil.example.com")).iter().all(|(k, _)| *k == "vary"));
        assert!(CorsPolicy::default().response_headers(Some("https://app.example.com")).is_empty());
    }
}
