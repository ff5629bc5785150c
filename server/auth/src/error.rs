//! Error types of the crate: token refusals, configuration mistakes, minting and room-pattern errors.

use thiserror::Error;

/// Why a client token was refused. The `Display` text is the exact refusal message clients see
/// in `connect_error` (see the runtime contract), so it must not change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Error)]
pub enum AuthError {
    /// No token, or an empty / whitespace-only one.
    #[error("missing token")]
    Missing,
    /// Not a compact JWS, bad base64/JSON, or a claim of the wrong type.
    #[error("malformed token")]
    Malformed,
    /// `exp` (plus leeway) is in the past.
    #[error("token expired")]
    Expired,
    /// `nbf` (minus leeway) is in the future.
    #[error("token not yet valid")]
    NotYetValid,
    /// The signature does not match the selected key.
    #[error("invalid signature")]
    InvalidSignature,
    /// The header `alg` is not in the configured allow-list (this includes `none`), or the key
    /// named by `kid` is not usable with that algorithm.
    #[error("algorithm not allowed")]
    AlgorithmNotAllowed,
    /// An audience is configured and the token's `aud` does not contain it.
    #[error("invalid audience")]
    InvalidAudience,
    /// An issuer is configured and the token's `iss` is not it.
    #[error("invalid issuer")]
    InvalidIssuer,
    /// The token has no `exp` claim.
    #[error("token has no exp")]
    MissingExp,
    /// The token has no `sub` claim, or it is not a non-empty string.
    #[error("token has no sub")]
    MissingSub,
    /// No configured key matches the token (unknown `kid`, or no key for its algorithm).
    #[error("unknown signing key")]
    UnknownKey,
}

impl AuthError {
    /// The refusal message as a static string (same text as `Display`).
    pub fn as_str(self) -> &'static str {
        match self {
            AuthError::Missing => "missing token",
            AuthError::Malformed => "malformed token",
            AuthError::Expired => "token expired",
            AuthError::NotYetValid => "token not yet valid",
            AuthError::InvalidSignature => "invalid signature",
            AuthError::AlgorithmNotAllowed => "algorithm not allowed",
            AuthError::InvalidAudience => "invalid audience",
            AuthError::InvalidIssuer => "invalid issuer",
            AuthError::MissingExp => "token has no exp",
            AuthError::MissingSub => "token has no sub",
            AuthError::UnknownKey => "unknown signing key",
        }
    }
}

/// A mistake in the `[auth]` configuration. The text starts with the option it concerns.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    /// `algorithms` is empty.
    #[error("auth.algorithms: must list at least one of HS256, RS256, ES256")]
    NoAlgorithms,
    /// `algorithms` names something other than HS256, RS256 or ES256.
    #[error("auth.algorithms: unknown algorithm {0:?}")]
    UnknownAlgorithm(String),
    /// HS256 is allowed but no secret is set.
    #[error("auth.hs256_secret: required when HS256 is allowed")]
    MissingHs256Secret,
    /// RS256 is allowed but there is neither a PEM key nor an RSA key in the JWKS.
    #[error(
        "auth.rsa_public_key_file: required when RS256 is allowed (unless auth.jwks_file has an RSA key)"
    )]
    MissingRsaKey,
    /// The RSA key text is not a PEM RSA public key.
    #[error("auth.rsa_public_key_file: not a PEM RSA public key")]
    BadRsaKey,
    /// ES256 is allowed but there is neither a PEM key nor a P-256 key in the JWKS.
    #[error(
        "auth.ec_public_key_file: required when ES256 is allowed (unless auth.jwks_file has a P-256 key)"
    )]
    MissingEcKey,
    /// The EC key text is not a PEM P-256 public key.
    #[error("auth.ec_public_key_file: not a PEM EC P-256 public key")]
    BadEcKey,
    /// The JWKS document cannot be used.
    #[error("auth.jwks_file: {0}")]
    BadJwks(String),
    /// `rooms_claim` is empty.
    #[error("auth.rooms_claim: must not be empty")]
    EmptyRoomsClaim,
}

/// A room pattern that cannot be used in a rooms claim.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RoomPatternError {
    /// The pattern is the empty string.
    #[error("room pattern is empty")]
    Empty,
    /// A `*` appears somewhere other than the last character.
    #[error("room pattern {0:?}: '*' is only allowed as the last character")]
    MisplacedWildcard(String),
}

/// Why a dev token could not be minted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MintError {
    /// The HS256 secret is empty.
    #[error("the HS256 secret is empty")]
    EmptySecret,
    /// The subject is empty.
    #[error("sub must not be empty")]
    EmptySub,
    /// The time to live is zero.
    #[error("ttl must be at least one second")]
    ZeroTtl,
    /// The rooms claim name is empty.
    #[error("the rooms claim name is empty")]
    EmptyRoomsClaim,
    /// One of the rooms is not a valid room pattern.
    #[error(transparent)]
    Room(#[from] RoomPatternError),
    /// Signing failed.
    #[error("signing failed: {0}")]
    Sign(String),
}
