//! The openings of a session: the websocket upgrade check (RFC 6455 4.2.1) and its `101` answer,
//! and the Engine.IO open packet.

use std::time::Duration;

use axum::http::request::Parts;
use axum::http::{Method, Version, header};
use herald_codec::engine::Handshake;
use herald_codec::ws;

use crate::error::Refusal;

/// The credential of an `Authorization: Bearer <token>` header value (RFC 6750), if any.
pub fn bearer_value(v: &str) -> Option<Box<str>> {
    let t = v
        .strip_prefix("Bearer ")
        .or_else(|| v.strip_prefix("bearer "))?
        .trim();
    (!t.is_empty()).then(|| Box::from(t))
}

/// Checks the headers of a websocket upgrade request, given as (name, value) pairs, and returns
/// its `Sec-WebSocket-Accept`.
pub fn upgrade_accept<'a>(
    headers: impl Iterator<Item = (&'a str, &'a [u8])> + Clone,
) -> Option<String> {
    let values = |name: &'static str| {
        headers
            .clone()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .filter_map(|(_, v)| std::str::from_utf8(v).ok())
    };
    let has = |name: &'static str, token: &str| {
        values(name).any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    };
    if !has("upgrade", "websocket")
        || !has("connection", "upgrade")
        || !values("sec-websocket-version").any(|v| v.trim() == "13")
    {
        return None;
    }
    let key = values("sec-websocket-key").next()?.trim();
    (!key.is_empty()).then(|| ws::accept_key(key))
}

/// Checks a websocket upgrade request and returns its `Sec-WebSocket-Accept`. Another protocol
/// version than 13 is refused with the version this server speaks (RFC 6455 4.4); HTTP/1.0 has
/// no upgrade.
pub fn accept_key(parts: &Parts) -> Result<String, Refusal> {
    let headers: Vec<(&str, &[u8])> = parts
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()))
        .collect();
    if parts.method != Method::GET || parts.version != Version::HTTP_11 {
        return Err(Refusal::BadRequest);
    }
    if let Some(accept) = upgrade_accept(headers.iter().copied()) {
        return Ok(accept);
    }
    let version = parts
        .headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .and_then(|v| v.to_str().ok());
    match version {
        Some(v) if v.trim() != "13" => Err(Refusal::WebsocketVersion),
        _ => Err(Refusal::BadRequest),
    }
}

/// The `101 Switching Protocols` head, for a connection answered without the HTTP stack.
pub fn switching_head(accept: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    )
    .into_bytes()
}

/// The OPEN packet text (`0{...}`) of a session; `upgrades` offers the websocket.
pub fn open_packet(
    sid: &str,
    upgrades: bool,
    ping_interval: Duration,
    ping_timeout: Duration,
    max_payload: u64,
) -> String {
    let hs = Handshake {
        sid: sid.to_owned(),
        upgrades: if upgrades {
            vec!["websocket".to_owned()]
        } else {
            Vec::new()
        },
        ping_interval_ms: millis(ping_interval),
        ping_timeout_ms: millis(ping_timeout),
        max_payload,
    };
    format!("0{}", hs.to_json())
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(version: Version, headers: &[(&str, &str)]) -> Parts {
        let mut b = axum::http::Request::builder()
            .method(Method::GET)
            .uri("/socket.io/?EIO=4&transport=websocket")
            .version(version);
        for (n, v) in headers {
            b = b.header(*n, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    const UPGRADE: [(&str, &str); 4] = [
        ("upgrade", "websocket"),
        ("connection", "keep-alive, Upgrade"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];

    #[test]
    fn a_valid_upgrade_gets_the_rfc_accept_value() {
        let p = parts(Version::HTTP_11, &UPGRADE);
        // RFC 6455 1.3's example.
        assert_eq!(accept_key(&p).unwrap(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn http_1_0_and_other_versions_are_refused() {
        assert_eq!(
            accept_key(&parts(Version::HTTP_10, &UPGRADE)),
            Err(Refusal::BadRequest)
        );
        let mut h = UPGRADE;
        h[2] = ("sec-websocket-version", "8");
        assert_eq!(
            accept_key(&parts(Version::HTTP_11, &h)),
            Err(Refusal::WebsocketVersion)
        );
    }

    #[test]
    fn the_open_packet_offers_the_upgrade_only_to_polling() {
        let p = open_packet(
            "abc",
            true,
            Duration::from_secs(25),
            Duration::from_secs(20),
            1000,
        );
        assert!(p.starts_with("0{"), "{p}");
        assert!(p.contains(r#""upgrades":["websocket"]"#), "{p}");
        assert!(p.contains(r#""pingInterval":25000"#), "{p}");
        let p = open_packet(
            "abc",
            false,
            Duration::from_secs(25),
            Duration::from_secs(20),
            1000,
        );
        assert!(p.contains(r#""upgrades":[]"#), "{p}");
    }
}
