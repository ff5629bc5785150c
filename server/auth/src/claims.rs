//! Verified token claims, room-pattern matching, and the registered-claim checks (exp, nbf, aud, iss, sub, rooms).

use serde_json::{Map, Value};

use crate::error::{AuthError, RoomPatternError};

/// The claims of a verified token.
#[derive(Debug, Clone, PartialEq)]
pub struct Claims {
    /// The user id (`sub`), never empty.
    pub sub: String,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// Rooms / room patterns from the configured rooms claim (empty when the claim is absent).
    pub rooms: Vec<String>,
    /// Every claim of the token, as sent.
    pub raw: Map<String, Value>,
}

impl Claims {
    /// Whether the token lets its holder join `room`: some entry of `rooms` equals it exactly, or
    /// ends in `*` and `room` starts with the part before the `*` (a lone `*` allows every room).
    pub fn may_join(&self, room: &str) -> bool {
        self.rooms
            .iter()
            .any(|pattern| pattern_matches(pattern, room))
    }
}

fn pattern_matches(pattern: &str, room: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => room.starts_with(prefix),
        None => pattern == room,
    }
}

/// Checks a room pattern: non-empty, and `*` only as the last character.
pub fn validate_room_pattern(p: &str) -> Result<(), RoomPatternError> {
    if p.is_empty() {
        return Err(RoomPatternError::Empty);
    }
    let body = p.strip_suffix('*').unwrap_or(p);
    if body.contains('*') {
        return Err(RoomPatternError::MisplacedWildcard(p.to_owned()));
    }
    Ok(())
}

/// What the claims must satisfy besides the signature.
#[derive(Debug, Clone)]
pub(crate) struct ClaimPolicy {
    pub audience: Option<String>,
    pub issuer: Option<String>,
    pub leeway_secs: u64,
    pub rooms_claim: String,
}

/// Applies `policy` to the decoded payload at time `now` (Unix seconds).
pub(crate) fn check_claims(
    raw: Map<String, Value>,
    policy: &ClaimPolicy,
    now: u64,
) -> Result<Claims, AuthError> {
    let exp = match raw.get("exp") {
        None | Some(Value::Null) => return Err(AuthError::MissingExp),
        Some(v) => numeric_date(v)?,
    };
    let nbf = raw.get("nbf").map(numeric_date).transpose()?;

    if now >= refused_from(exp, policy.leeway_secs) {
        return Err(AuthError::Expired);
    }
    if let Some(nbf) = nbf
        && now.saturating_add(policy.leeway_secs) < nbf
    {
        return Err(AuthError::NotYetValid);
    }
    if let Some(want) = &policy.audience
        && !audience_contains(raw.get("aud"), want)
    {
        return Err(AuthError::InvalidAudience);
    }
    if let Some(want) = &policy.issuer
        && raw.get("iss").and_then(Value::as_str) != Some(want.as_str())
    {
        return Err(AuthError::InvalidIssuer);
    }
    let sub = match raw.get("sub").and_then(Value::as_str) {
        Some(s) if !s.is_empty() => s.to_owned(),
        _ => return Err(AuthError::MissingSub),
    };
    let rooms = rooms_of(raw.get(&policy.rooms_claim))?;
    Ok(Claims {
        sub,
        exp,
        rooms,
        raw,
    })
}

/// The first second (Unix time) at which a token expiring at `exp` is no longer accepted: `exp`
/// plus the leeway, saturating (a far-future `exp` never wraps around).
pub(crate) fn refused_from(exp: u64, leeway_secs: u64) -> u64 {
    exp.saturating_add(leeway_secs)
}

/// A JWT NumericDate: a non-negative JSON number of seconds (a fraction is truncated).
fn numeric_date(v: &Value) -> Result<u64, AuthError> {
    if let Some(n) = v.as_u64() {
        return Ok(n);
    }
    match v.as_f64() {
        // `as` saturates at u64::MAX for huge values, which is what a far-future date should do.
        Some(f) if f.is_finite() && f >= 0.0 => Ok(f.trunc() as u64),
        _ => Err(AuthError::Malformed),
    }
}

/// `aud` may be a single string or an array of strings (RFC 7519 section 4.1.3).
fn audience_contains(aud: Option<&Value>, want: &str) -> bool {
    match aud {
        Some(Value::String(s)) => s == want,
        Some(Value::Array(items)) => items.iter().any(|item| item.as_str() == Some(want)),
        _ => false,
    }
}

fn rooms_of(claim: Option<&Value>) -> Result<Vec<String>, AuthError> {
    match claim {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned).ok_or(AuthError::Malformed))
            .collect(),
        Some(_) => Err(AuthError::Malformed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy() -> ClaimPolicy {
        ClaimPolicy {
            audience: None,
            issuer: None,
            leeway_secs: 5,
            rooms_claim: "rooms".into(),
        }
    }

    fn check(v: Value, now: u64) -> Result<Claims, AuthError> {
        let Value::Object(map) = v else {
            panic!("test payload must be an object")
        };
        check_claims(map, &policy(), now)
    }

    #[test]
    fn exp_boundaries_with_leeway() {
        let p = json!({"sub": "a", "exp": 1000});
        assert!(check(p.clone(), 1004).is_ok());
        assert_eq!(check(p, 1005), Err(AuthError::Expired));
    }

    #[test]
    fn far_future_exp_saturates() {
        let c = check(json!({"sub": "a", "exp": 1e300}), 1000).unwrap();
        assert_eq!(c.exp, u64::MAX);
        assert_eq!(refused_from(c.exp, 5), u64::MAX);
        assert_eq!(refused_from(u64::MAX - 2, 5), u64::MAX);
    }

    #[test]
    fn nbf_boundaries_with_leeway() {
        let p = json!({"sub": "a", "exp": 5000, "nbf": 1000});
        assert!(check(p.clone(), 995).is_ok());
        assert_eq!(check(p, 994), Err(AuthError::NotYetValid));
    }

    #[test]
    fn claim_types() {
        assert_eq!(check(json!({"sub": "a"}), 1), Err(AuthError::MissingExp));
        assert_eq!(
            check(json!({"sub": "a", "exp": "soon"}), 1),
            Err(AuthError::Malformed)
        );
        assert_eq!(
            check(json!({"sub": "a", "exp": -3}), 1),
            Err(AuthError::Malformed)
        );
        assert_eq!(check(json!({"sub": "a", "exp": 10.9}), 1).unwrap().exp, 10);
        assert_eq!(
            check(json!({"sub": "a", "exp": 10, "nbf": true}), 1),
            Err(AuthError::Malformed)
        );
        assert_eq!(check(json!({"exp": 10}), 1), Err(AuthError::MissingSub));
        assert_eq!(
            check(json!({"sub": "", "exp": 10}), 1),
            Err(AuthError::MissingSub)
        );
        assert_eq!(
            check(json!({"sub": 7, "exp": 10}), 1),
            Err(AuthError::MissingSub)
        );
        assert_eq!(
            check(json!({"sub": "a", "exp": 10, "rooms": "lobby"}), 1),
            Err(AuthError::Malformed)
        );
        assert_eq!(
            check(json!({"sub": "a", "exp": 10, "rooms": ["a", 1]}), 1),
            Err(AuthError::Malformed)
        );
    }

    #[test]
    fn patterns() {
        assert!(pattern_matches("campaign:*", "campaign:42"));
        assert!(pattern_matches("campaign:*", "campaign:"));
        assert!(!pattern_matches("campaign:*", "campaign"));
        assert!(pattern_matches("*", "anything"));
        assert!(pattern_matches("lobby", "lobby"));
        assert!(!pattern_matches("lobby", "lobby2"));
        assert!(!pattern_matches("a*b", "axb"));
        assert!(validate_room_pattern("a*").is_ok());
        assert!(validate_room_pattern("*").is_ok());
        assert_eq!(validate_room_pattern(""), Err(RoomPatternError::Empty));
        assert!(matches!(
            validate_room_pattern("a*b"),
            Err(RoomPatternError::MisplacedWildcard(_))
        ));
        assert!(validate_room_pattern("a**").is_err());
    }
}
