//! herald-auth: verifies client JWTs (HS256 / RS256 / ES256, JWKS by `kid`) and mints HS256 dev tokens.
//!
//! The edge builds one [`Verifier`] from [`AuthConfig`] and calls [`Verifier::verify`] on every
//! Socket.IO CONNECT; a refusal's `Display` text ([`AuthError`]) is sent to the client as is.
//! `herald token` uses [`mint_hs256`].

mod claims;
mod config;
mod error;
mod keys;
mod mint;
mod token;
mod verify;

pub use claims::{Claims, validate_room_pattern};
pub use config::AuthConfig;
pub use error::{AuthError, ConfigError, MintError, RoomPatternError};
pub use mint::{MintOptions, mint_hs256, mint_hs256_with_rooms_claim};
pub use verify::{MAX_TOKEN_LEN, Verifier};
