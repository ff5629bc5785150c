//! `edge.allowed_origins`: which browser origins may open sessions, and the CORS headers of the
//! polling transport for them.

use axum::http::{HeaderMap, HeaderValue, header};

/// Allowed origins: exact ones and `*.domain` patterns. Empty allows every origin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origins {
    /// `scheme://host[:port]`, lowercase.
    exact: Vec<String>,
    /// (scheme or `None` for http and https, `.domain[:port]` the host must end with), lowercase.
    suffixes: Vec<(Option<String>, String)>,
}

impl Origins {
    /// Parses the configured list; the error says which entry is not an origin or a pattern.
    pub fn parse(list: &[String]) -> Result<Self, String> {
        let mut out = Origins::default();
        for entry in list {
            let e = entry.trim().trim_end_matches('/').to_ascii_lowercase();
            let bad = || {
                format!(
                    "{entry:?} is neither an origin (https://app.example.com) nor a pattern \
                     (https://*.example.com, *.example.com)"
                )
            };
            let (scheme, rest) = match e.split_once("://") {
                Some((s, r)) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric()) => {
                    (Some(s.to_owned()), r.to_owned())
                }
                Some(_) => return Err(bad()),
                None => (None, e.clone()),
            };
            let host_ok = |h: &str| {
                !h.is_empty()
                    && h.bytes().all(|b| {
                        b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']')
                    })
            };
            match rest.strip_prefix('*') {
                Some(suffix) if suffix.starts_with('.') && host_ok(&suffix[1..]) => {
                    out.suffixes.push((scheme, suffix.to_owned()));
                }
                Some(_) => return Err(bad()),
                None if scheme.is_some() && host_ok(&rest) => out.exact.push(e),
                None => return Err(bad()),
            }
        }
        Ok(out)
    }

    /// Whether every origin is allowed (nothing configured).
    pub fn allows_all(&self) -> bool {
        self.exact.is_empty() && self.suffixes.is_empty()
    }

    /// Whether a request with this `Origin` header value may open or use a session. A request
    /// without one (not from a browser page) is not subject to the list.
    pub fn allows(&self, origin: Option<&[u8]>) -> bool {
        let Some(origin) = origin else { return true };
        if self.allows_all() {
            return true;
        }
        let Ok(origin) = std::str::from_utf8(origin) else {
            return false;
        };
        let origin = origin.trim().to_ascii_lowercase();
        if self.exact.contains(&origin) {
            return true;
        }
        let Some((scheme, host)) = origin.split_once("://") else {
            return false;
        };
        self.suffixes.iter().any(|(s, suffix)| {
            let scheme_ok = match s {
                Some(s) => s == scheme,
                None => scheme == "http" || scheme == "https",
            };
            scheme_ok && host.len() > suffix.len() && host.ends_with(suffix.as_str())
        })
    }
}

/// The `Origin` header of a request.
pub fn origin_of(headers: &HeaderMap) -> Option<&[u8]> {
    headers.get(header::ORIGIN).map(HeaderValue::as_bytes)
}

/// CORS headers for a polling response to a request from `origin` (already allowed): the origin
/// itself with credentials when a list is configured, `*` otherwise.
pub fn cors_headers(origins: &Origins, origin: Option<&HeaderValue>, out: &mut HeaderMap) {
    let Some(origin) = origin else { return };
    if origins.allows_all() {
        out.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
    } else {
        out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        out.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        out.append(header::VARY, HeaderValue::from_static("Origin"));
    }
}

/// Extra headers of a preflight (`OPTIONS`) answer: methods, the requested headers, and how long
/// the browser may remember the answer.
pub fn preflight_headers(request: &HeaderMap, out: &mut HeaderMap) {
    out.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, OPTIONS"),
    );
    let asked = request
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .cloned()
        .unwrap_or_else(|| HeaderValue::from_static("content-type, authorization"));
    out.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked);
    out.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(v: &[&str]) -> Origins {
        Origins::parse(&v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn empty_allows_everything() {
        let o = list(&[]);
        assert!(o.allows(Some(b"https://evil.test")));
        assert!(o.allows(None));
    }

    #[test]
    fn exact_and_patterns() {
        let o = list(&[
            "https://app.example.com",
            "*.example.org",
            "http://*.local.test:8080",
        ]);
        assert!(o.allows(Some(b"https://app.example.com")));
        assert!(o.allows(Some(b"HTTPS://APP.example.com")));
        assert!(!o.allows(Some(b"http://app.example.com")));
        assert!(!o.allows(Some(b"https://app.example.com.evil.test")));
        assert!(o.allows(Some(b"https://a.example.org")));
        assert!(o.allows(Some(b"http://b.c.example.org")));
        assert!(!o.allows(Some(b"https://example.org")));
        assert!(!o.allows(Some(b"https://evilexample.org")));
        assert!(!o.allows(Some(b"ftp://a.example.org")));
        assert!(o.allows(Some(b"http://x.local.test:8080")));
        assert!(!o.allows(Some(b"http://x.local.test:9090")));
        assert!(!o.allows(Some(b"null")));
        assert!(o.allows(None), "non-browser clients send no Origin");
    }

    #[test]
    fn bad_entries_are_refused() {
        for bad in [
            "example.com",
            "https://",
            "*example.com",
            "https://*",
            "ht tp://a.b",
        ] {
            assert!(Origins::parse(&[bad.to_owned()]).is_err(), "{bad}");
        }
    }
}
