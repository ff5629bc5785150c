//! The benchmark's event payloads: build the ~100-byte JSON body with a run id and a send timestamp,
//! find those fields again in a received Socket.IO frame without a JSON parser, and mint HS256 tokens.

use std::time::{SystemTime, UNIX_EPOCH};

/// Microseconds since the Unix epoch (shared clock between emitter and receivers).
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Padding that brings a broadcast body to about 100 bytes.
pub const PAD: &str = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

/// The JSON body of a broadcast event: `{"r":RUN,"t":MICROS,"p":"xx..."}`.
pub fn broadcast_body(run: u64, t: u64) -> String {
    format!("{{\"r\":{run},\"t\":{t},\"p\":\"{PAD}\"}}")
}

/// The Socket.IO EVENT packet a chat member sends to its room.
pub fn chat_packet(room: &str, run: u64, t: u64) -> String {
    format!(
        "42[\"chat\",{{\"room\":\"{room}\",\"r\":{run},\"t\":{t},\"p\":\"{}\"}}]",
        &PAD[..30]
    )
}

/// The unsigned integer after `"key":` in `text`, if any.
pub fn field_u64(text: &[u8], key: &[u8]) -> Option<u64> {
    let at = find(text, key)? + key.len();
    let mut v: u64 = 0;
    let mut digits = 0;
    for &b in &text[at..] {
        if b.is_ascii_digit() {
            v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
            digits += 1;
        } else {
            break;
        }
    }
    (digits > 0).then_some(v)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Claims of a benchmark user token.
#[derive(serde::Serialize)]
struct Claims<'a> {
    sub: &'a str,
    exp: u64,
    rooms: &'a [&'a str],
}

/// An HS256 JWT for `sub` that may join the benchmark rooms, valid for two hours.
pub fn mint(secret: &str, sub: &str) -> anyhow::Result<String> {
    let claims = Claims {
        sub,
        exp: now_us() / 1_000_000 + 7200,
        rooms: &["bench", "pair-*"],
    };
    Ok(jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_found_in_any_key_order() {
        let body = broadcast_body(7, 1_700_000_000_123_456);
        assert!((90..=110).contains(&body.len()), "{}", body.len());
        let frame = format!("42[\"bench\",{body}]");
        assert_eq!(field_u64(frame.as_bytes(), b"\"r\":"), Some(7));
        assert_eq!(
            field_u64(frame.as_bytes(), b"\"t\":"),
            Some(1_700_000_000_123_456)
        );
        let sorted = br#"42["chat",{"p":"xx","r":3,"room":"pair-1","t":99}]"#;
        assert_eq!(field_u64(sorted, b"\"r\":"), Some(3));
        assert_eq!(field_u64(sorted, b"\"t\":"), Some(99));
        assert_eq!(field_u64(b"42[\"x\",{}]", b"\"t\":"), None);
    }

    #[test]
    fn tokens_have_three_parts() {
        let t = mint("s", "u1").unwrap();
        assert_eq!(t.split('.').count(), 3);
    }
}
