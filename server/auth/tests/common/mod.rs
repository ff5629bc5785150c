//! Shared helpers for the herald-auth integration tests: fixture keys and token builders.
#![allow(dead_code)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use herald_auth::{AuthConfig, Verifier};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::Value;

pub const SECRET: &str = "test-secret-for-herald";
/// A fixed "now" so time checks do not depend on the clock.
pub const NOW: u64 = 1_700_000_000;

pub const RSA_PUBLIC: &str = include_str!("../fixtures/rsa_public.pem");
pub const RSA_PRIVATE: &str = include_str!("../fixtures/rsa_private.pem");
pub const RSA2_PUBLIC: &str = include_str!("../fixtures/rsa2_public.pem");
pub const RSA2_PRIVATE: &str = include_str!("../fixtures/rsa2_private.pem");
pub const EC_PUBLIC: &str = include_str!("../fixtures/ec_public.pem");
pub const EC_PRIVATE: &str = include_str!("../fixtures/ec_private.pem");
pub const EC384_PUBLIC: &str = include_str!("../fixtures/ec384_public.pem");
pub const JWKS: &str = include_str!("../fixtures/jwks.json");

pub fn hs_config() -> AuthConfig {
    AuthConfig {
        hs256_secret: Some(SECRET.to_owned()),
        ..AuthConfig::default()
    }
}

pub fn verifier(cfg: &AuthConfig) -> Verifier {
    Verifier::new(cfg).unwrap()
}

pub fn sign(alg: Algorithm, key: &EncodingKey, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

pub fn hs(secret: &str, claims: &Value) -> String {
    sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(secret.as_bytes()),
        None,
        claims,
    )
}

pub fn rsa_key() -> EncodingKey {
    EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap()
}

pub fn rsa2_key() -> EncodingKey {
    EncodingKey::from_rsa_pem(RSA2_PRIVATE.as_bytes()).unwrap()
}

pub fn ec_key() -> EncodingKey {
    EncodingKey::from_ec_pem(EC_PRIVATE.as_bytes()).unwrap()
}

/// Claims valid at `NOW`.
pub fn claims(sub: &str) -> Value {
    serde_json::json!({ "sub": sub, "iat": NOW, "exp": NOW + 600 })
}

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Builds `header.payload.signature` from raw JSON texts (no signing).
pub fn compact(header: &str, payload: &Value, signature: &str) -> String {
    format!("{}.{}.{}", b64(header), b64(payload.to_string()), signature)
}
