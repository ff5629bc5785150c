//! Why the engine refuses a request or a session: each refusal a client or operator can read,
//! and the one place where they become HTTP answers (Engine.IO errors carry the JSON body the
//! reference server sends, `{"code":N,"message":"..."}`).

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A request or session the engine refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// A `transport` other than `polling` or `websocket`.
    #[error("Transport unknown")]
    UnknownTransport,
    /// A `sid` of no open session.
    #[error("Session ID unknown")]
    UnknownSid,
    /// A handshake that is not a GET.
    #[error("Bad handshake method")]
    BadHandshakeMethod,
    /// An `EIO` other than 4.
    #[error("Unsupported protocol version")]
    UnsupportedVersion,
    /// A request that is not a valid Engine.IO or websocket request.
    #[error("Bad request")]
    BadRequest,
    /// A polling body larger than `max_payload`.
    #[error("payload too large")]
    PayloadTooLarge,
    /// The page's origin is not allowed (Engine.IO "Forbidden").
    #[error("Forbidden: origin not allowed")]
    OriginNotAllowed,
    /// `max_sessions` reached.
    #[error("too many sessions on this server, retry later")]
    TooManySessions,
    /// `max_sessions_per_ip` reached.
    #[error("too many sessions from this address")]
    TooManySessionsFromIp,
    /// `handshakes_per_ip_per_sec` exceeded.
    #[error("too many handshakes from this address, retry later")]
    HandshakeRate,
    /// A websocket request of another protocol version than 13 (RFC 6455 4.4).
    #[error("unsupported websocket version: this server speaks 13")]
    WebsocketVersion,
    /// A request head not complete within `header_timeout_ms`.
    #[error("request head not received in time")]
    HeaderTimeout,
    /// A request head larger than `max_header_bytes`.
    #[error("request header fields too large")]
    HeadersTooLarge,
    /// A polling POST whose body did not arrive within `poll_body_timeout_ms`.
    #[error("request body not received in time")]
    BodyTimeout,
}

impl Refusal {
    /// The Engine.IO error code, for the Engine.IO errors.
    fn engine_code(self) -> Option<u8> {
        match self {
            Refusal::UnknownTransport => Some(0),
            Refusal::UnknownSid => Some(1),
            Refusal::BadHandshakeMethod => Some(2),
            Refusal::BadRequest => Some(3),
            Refusal::OriginNotAllowed => Some(4),
            Refusal::UnsupportedVersion => Some(5),
            _ => None,
        }
    }

    /// The HTTP status of the refusal.
    pub fn status(self) -> StatusCode {
        match self {
            Refusal::UnknownTransport
            | Refusal::UnknownSid
            | Refusal::BadHandshakeMethod
            | Refusal::UnsupportedVersion
            | Refusal::BadRequest => StatusCode::BAD_REQUEST,
            Refusal::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::OriginNotAllowed => StatusCode::FORBIDDEN,
            Refusal::TooManySessions => StatusCode::SERVICE_UNAVAILABLE,
            Refusal::TooManySessionsFromIp | Refusal::HandshakeRate => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Refusal::WebsocketVersion => StatusCode::UPGRADE_REQUIRED,
            Refusal::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Refusal::BodyTimeout | Refusal::HeaderTimeout => StatusCode::REQUEST_TIMEOUT,
        }
    }

    /// The response's content type and body.
    fn body(self) -> (&'static str, String) {
        match self.engine_code() {
            Some(code) => (
                "application/json",
                format!(
                    r#"{{"code":{code},"message":{}}}"#,
                    json_string(&self.to_string())
                ),
            ),
            None => ("text/plain; charset=UTF-8", self.to_string()),
        }
    }

    /// A header the refusal's status calls for.
    fn extra_header(self) -> Option<(header::HeaderName, &'static str)> {
        (self == Refusal::WebsocketVersion).then_some((header::SEC_WEBSOCKET_VERSION, "13"))
    }

    /// The whole HTTP/1.1 response, for a connection answered without the HTTP stack (it is
    /// closed after).
    pub fn http1(self) -> Vec<u8> {
        let status = self.status();
        let (content_type, body) = self.body();
        let extra = self
            .extra_header()
            .map(|(n, v)| format!("{n}: {v}\r\n"))
            .unwrap_or_default();
        format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{extra}\
             Connection: close\r\n\r\n{body}",
            status.as_u16(),
            status.canonical_reason().unwrap_or(""),
            body.len()
        )
        .into_bytes()
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (content_type, body) = self.body();
        let mut r = (self.status(), [(header::CONTENT_TYPE, content_type)], body).into_response();
        if let Some((name, value)) = self.extra_header() {
            r.headers_mut()
                .insert(name, header::HeaderValue::from_static(value));
        }
        r
    }
}

/// `s` as a JSON string (the messages are ASCII text without control characters, but quotes
/// and backslashes are escaped all the same).
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_io_errors_carry_their_code_and_others_plain_text() {
        let r = String::from_utf8(Refusal::UnknownSid.http1()).unwrap();
        assert!(r.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{r}");
        assert!(
            r.ends_with(r#"{"code":1,"message":"Session ID unknown"}"#),
            "{r}"
        );
        let r = String::from_utf8(Refusal::WebsocketVersion.http1()).unwrap();
        assert!(r.starts_with("HTTP/1.1 426 Upgrade Required\r\n"), "{r}");
        assert!(r.contains("\r\nsec-websocket-version: 13\r\n"), "{r}");
        assert!(r.ends_with("this server speaks 13"), "{r}");
    }
}
