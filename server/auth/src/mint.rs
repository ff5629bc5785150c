//! Dev-token minting (`herald token`): HS256 JWTs signed with the configured secret.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Map, Value};

use crate::claims::validate_room_pattern;
use crate::error::MintError;

/// What goes into a minted token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintOptions {
    /// The user id (`sub`).
    pub sub: String,
    /// Lifetime in seconds (`exp = iat + ttl_secs`).
    pub ttl_secs: u64,
    /// `aud`, when set.
    pub audience: Option<String>,
    /// `iss`, when set.
    pub issuer: Option<String>,
    /// Rooms / room patterns the user may join (omitted from the token when empty).
    pub rooms: Vec<String>,
}

impl Default for MintOptions {
    fn default() -> Self {
        MintOptions {
            sub: String::new(),
            ttl_secs: 3600,
            audience: None,
            issuer: None,
            rooms: Vec::new(),
        }
    }
}

/// Mints an HS256 token, rooms under the default claim name "rooms".
pub fn mint_hs256(secret: &str, opts: &MintOptions) -> Result<String, MintError> {
    mint_hs256_with_rooms_claim(secret, opts, "rooms")
}

/// Mints an HS256 token with the rooms list under `rooms_claim` (use the configured
/// `auth.rooms_claim` so the verifier finds it).
pub fn mint_hs256_with_rooms_claim(
    secret: &str,
    opts: &MintOptions,
    rooms_claim: &str,
) -> Result<String, MintError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let claims = build_claims(opts, rooms_claim, now)?;
    if secret.is_empty() {
        return Err(MintError::EmptySecret);
    }
    let mut header = Header::new(Algorithm::HS256);
    header.typ = Some("JWT".to_owned());
    jsonwebtoken::encode(
        &header,
        &Value::Object(claims),
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .map_err(|e| MintError::Sign(e.to_string()))
}

fn build_claims(
    opts: &MintOptions,
    rooms_claim: &str,
    now: u64,
) -> Result<Map<String, Value>, MintError> {
    if opts.sub.is_empty() {
        return Err(MintError::EmptySub);
    }
    if opts.ttl_secs == 0 {
        return Err(MintError::ZeroTtl);
    }
    if rooms_claim.is_empty() {
        return Err(MintError::EmptyRoomsClaim);
    }
    for room in &opts.rooms {
        validate_room_pattern(room)?;
    }
    let mut claims = Map::new();
    claims.insert("sub".into(), opts.sub.clone().into());
    claims.insert("iat".into(), now.into());
    claims.insert("exp".into(), now.saturating_add(opts.ttl_secs).into());
    if let Some(aud) = opts.audience.as_ref().filter(|a| !a.is_empty()) {
        claims.insert("aud".into(), aud.clone().into());
    }
    if let Some(iss) = opts.issuer.as_ref().filter(|i| !i.is_empty()) {
        claims.insert("iss".into(), iss.clone().into());
    }
    if !opts.rooms.is_empty() {
        claims.insert(rooms_claim.to_owned(), opts.rooms.clone().into());
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_shape() {
        let opts = MintOptions {
            sub: "alice".into(),
            ttl_secs: 60,
            audience: Some("herald".into()),
            issuer: Some(String::new()),
            rooms: vec!["lobby".into(), "campaign:*".into()],
        };
        let c = build_claims(&opts, "perms", 1000).unwrap();
        assert_eq!(c["sub"], "alice");
        assert_eq!(c["iat"], 1000);
        assert_eq!(c["exp"], 1060);
        assert_eq!(c["aud"], "herald");
        assert!(!c.contains_key("iss"));
        assert!(!c.contains_key("rooms"));
        assert_eq!(c["perms"], serde_json::json!(["lobby", "campaign:*"]));
    }

    #[test]
    fn refuses_bad_options() {
        let ok = MintOptions {
            sub: "a".into(),
            ..MintOptions::default()
        };
        assert!(build_claims(&ok, "rooms", 1).is_ok());
        let no_sub = MintOptions::default();
        assert_eq!(build_claims(&no_sub, "rooms", 1), Err(MintError::EmptySub));
        let zero = MintOptions {
            ttl_secs: 0,
            ..ok.clone()
        };
        assert_eq!(build_claims(&zero, "rooms", 1), Err(MintError::ZeroTtl));
        let bad_room = MintOptions {
            rooms: vec!["a*b".into()],
            ..ok.clone()
        };
        assert!(matches!(
            build_claims(&bad_room, "rooms", 1),
            Err(MintError::Room(_))
        ));
        assert_eq!(mint_hs256("", &ok), Err(MintError::EmptySecret));
    }
}
