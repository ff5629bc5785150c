//! Splits a compact JWS (`header.payload.signature`) and decodes its header and payload, before any key is used.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::error::AuthError;

/// The parts of a compact JWS, decoded but not yet verified.
#[derive(Debug)]
pub(crate) struct RawToken<'a> {
    /// `alg` from the header, as written.
    pub alg: String,
    /// `kid` from the header, if any.
    pub kid: Option<String>,
    /// The signed bytes: `base64(header) "." base64(payload)`.
    pub signing_input: &'a str,
    /// The signature part, still base64url (checked to decode).
    pub signature_b64: &'a str,
    /// The decoded payload object.
    pub payload: Map<String, Value>,
}

/// Parses `token` (already trimmed and non-empty). Any structural problem is `Malformed`.
pub(crate) fn parse(token: &str) -> Result<RawToken<'_>, AuthError> {
    let (signing_input, signature_b64) = token.rsplit_once('.').ok_or(AuthError::Malformed)?;
    let (header_b64, payload_b64) = signing_input.split_once('.').ok_or(AuthError::Malformed)?;
    if payload_b64.contains('.') {
        return Err(AuthError::Malformed);
    }

    let header = decode_object(header_b64)?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(AuthError::Malformed)?
        .to_owned();
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(AuthError::Malformed),
    };
    // RFC 7515 section 4.1.11: extensions listed in `crit` must be understood; we understand none.
    if header.contains_key("crit") {
        return Err(AuthError::Malformed);
    }

    let payload = decode_object(payload_b64)?;
    URL_SAFE_NO_PAD
        .decode(signature_b64)
        .map_err(|_| AuthError::Malformed)?;

    Ok(RawToken {
        alg,
        kid,
        signing_input,
        signature_b64,
        payload,
    })
}

fn decode_object(part: &str) -> Result<Map<String, Value>, AuthError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| AuthError::Malformed)?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(AuthError::Malformed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    #[test]
    fn splits_and_decodes() {
        let t = format!(
            "{}.{}.{}",
            b64(r#"{"alg":"HS256","kid":"k1"}"#),
            b64(r#"{"sub":"a"}"#),
            b64("sig")
        );
        let raw = parse(&t).unwrap();
        assert_eq!(raw.alg, "HS256");
        assert_eq!(raw.kid.as_deref(), Some("k1"));
        assert_eq!(raw.payload["sub"], "a");
        assert_eq!(raw.signing_input.matches('.').count(), 1);
    }

    #[test]
    fn structural_errors_are_malformed() {
        let h = b64(r#"{"alg":"HS256"}"#);
        let p = b64(r#"{"sub":"a"}"#);
        for t in [
            "abc".to_owned(),
            "a.b".to_owned(),
            format!("{h}.{p}.x.y"),
            format!("{h}.{}.sig", b64("[1]")),
            format!("{}.{p}.sig", b64(r#"{"alg":5}"#)),
            format!("{}.{p}.sig", b64(r#"{"typ":"JWT"}"#)),
            format!("{}.{p}.sig", b64(r#"{"alg":"HS256","kid":3}"#)),
            format!("{}.{p}.sig", b64(r#"{"alg":"HS256","crit":["x"]}"#)),
            format!("{h}.{p}.not base64!"),
            format!("{h}.%%%.sig"),
        ] {
            assert_eq!(parse(&t).unwrap_err(), AuthError::Malformed, "{t}");
        }
    }
}
