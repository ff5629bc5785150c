//! RS256 / ES256 verification with PEM keys, and JWKS key selection by `kid` (key rotation).

mod common;

use common::*;
use herald_auth::{AuthConfig, AuthError};
use jsonwebtoken::Algorithm;

fn rs_config() -> AuthConfig {
    AuthConfig {
        algorithms: vec!["RS256".into()],
        rsa_public_key_pem: Some(RSA_PUBLIC.into()),
        ..AuthConfig::default()
    }
}

fn es_config() -> AuthConfig {
    AuthConfig {
        algorithms: vec!["ES256".into()],
        ec_public_key_pem: Some(EC_PUBLIC.into()),
        ..AuthConfig::default()
    }
}

fn jwks_config() -> AuthConfig {
    AuthConfig {
        algorithms: vec!["RS256".into(), "ES256".into()],
        jwks_json: Some(JWKS.into()),
        ..AuthConfig::default()
    }
}

#[test]
fn rs256_with_pem_key() {
    let v = verifier(&rs_config());
    let t = sign(Algorithm::RS256, &rsa_key(), None, &claims("alice"));
    assert_eq!(v.verify_at(&t, NOW).unwrap().sub, "alice");

    let other_key = sign(Algorithm::RS256, &rsa2_key(), None, &claims("alice"));
    assert_eq!(
        v.verify_at(&other_key, NOW),
        Err(AuthError::InvalidSignature)
    );
    let es = sign(Algorithm::ES256, &ec_key(), None, &claims("alice"));
    assert_eq!(v.verify_at(&es, NOW), Err(AuthError::AlgorithmNotAllowed));
}

#[test]
fn es256_with_pem_key() {
    let v = verifier(&es_config());
    let t = sign(Algorithm::ES256, &ec_key(), None, &claims("bob"));
    assert_eq!(v.verify_at(&t, NOW).unwrap().sub, "bob");

    let parts: Vec<&str> = t.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64(claims("eve").to_string()),
        parts[2]
    );
    assert_eq!(v.verify_at(&forged, NOW), Err(AuthError::InvalidSignature));

    let rs = sign(Algorithm::RS256, &rsa_key(), None, &claims("bob"));
    assert_eq!(v.verify_at(&rs, NOW), Err(AuthError::AlgorithmNotAllowed));
    let hs = hs(SECRET, &claims("bob"));
    assert_eq!(v.verify_at(&hs, NOW), Err(AuthError::AlgorithmNotAllowed));
}

#[test]
fn time_claims_apply_to_asymmetric_tokens_too() {
    let v = verifier(&es_config());
    let t = sign(Algorithm::ES256, &ec_key(), None, &claims("bob"));
    assert_eq!(v.verify_at(&t, NOW + 10_000), Err(AuthError::Expired));
}

#[test]
fn jwks_keys_are_chosen_by_kid() {
    let v = verifier(&jwks_config());
    let a = sign(
        Algorithm::RS256,
        &rsa_key(),
        Some("rsa-key-a"),
        &claims("a"),
    );
    let b = sign(
        Algorithm::RS256,
        &rsa2_key(),
        Some("rsa-key-b"),
        &claims("b"),
    );
    let c = sign(Algorithm::ES256, &ec_key(), Some("ec-key-c"), &claims("c"));
    assert_eq!(v.verify_at(&a, NOW).unwrap().sub, "a");
    assert_eq!(v.verify_at(&b, NOW).unwrap().sub, "b");
    assert_eq!(v.verify_at(&c, NOW).unwrap().sub, "c");

    // Signed by key b but claiming to be key a.
    let mislabelled = sign(
        Algorithm::RS256,
        &rsa2_key(),
        Some("rsa-key-a"),
        &claims("x"),
    );
    assert_eq!(
        v.verify_at(&mislabelled, NOW),
        Err(AuthError::InvalidSignature)
    );
    let unknown = sign(Algorithm::RS256, &rsa_key(), Some("retired"), &claims("x"));
    assert_eq!(v.verify_at(&unknown, NOW), Err(AuthError::UnknownKey));
    // Two RSA keys and no kid: ambiguous.
    let no_kid = sign(Algorithm::RS256, &rsa_key(), None, &claims("x"));
    assert_eq!(v.verify_at(&no_kid, NOW), Err(AuthError::UnknownKey));
    // Only one EC key: a token without kid may use it.
    let ec_no_kid = sign(Algorithm::ES256, &ec_key(), None, &claims("c"));
    assert_eq!(v.verify_at(&ec_no_kid, NOW).unwrap().sub, "c");
    // An ES256 token naming an RSA key.
    let cross = sign(Algorithm::ES256, &ec_key(), Some("rsa-key-a"), &claims("x"));
    assert_eq!(
        v.verify_at(&cross, NOW),
        Err(AuthError::AlgorithmNotAllowed)
    );
}

#[test]
fn jwks_keys_for_disallowed_algorithms_are_not_loaded() {
    let rs_only = verifier(&AuthConfig {
        algorithms: vec!["RS256".into()],
        ..jwks_config()
    });
    let c = sign(Algorithm::ES256, &ec_key(), Some("ec-key-c"), &claims("c"));
    assert_eq!(
        rs_only.verify_at(&c, NOW),
        Err(AuthError::AlgorithmNotAllowed)
    );
    let a = sign(
        Algorithm::RS256,
        &rsa_key(),
        Some("rsa-key-a"),
        &claims("a"),
    );
    assert!(rs_only.verify_at(&a, NOW).is_ok());
}

#[test]
fn jwks_and_static_keys_together() {
    let v = verifier(&AuthConfig {
        algorithms: vec!["HS256".into(), "RS256".into()],
        hs256_secret: Some(SECRET.into()),
        rsa_public_key_pem: Some(RSA2_PUBLIC.into()),
        jwks_json: Some(JWKS.into()),
        ..AuthConfig::default()
    });
    // No kid: the static RSA key (key b) is used.
    let static_rs = sign(Algorithm::RS256, &rsa2_key(), None, &claims("s"));
    assert_eq!(v.verify_at(&static_rs, NOW).unwrap().sub, "s");
    // kid from the JWKS wins over the static key.
    let a = sign(
        Algorithm::RS256,
        &rsa_key(),
        Some("rsa-key-a"),
        &claims("a"),
    );
    assert_eq!(v.verify_at(&a, NOW).unwrap().sub, "a");
    // HS256 tokens keep working (the dev tokens carry no kid).
    assert!(v.verify_at(&hs(SECRET, &claims("h")), NOW).is_ok());
    // An HS256 token pointing at an RSA JWKS key is refused, never HMAC-checked with it.
    let confused = sign(
        Algorithm::HS256,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
        Some("rsa-key-a"),
        &claims("x"),
    );
    assert_eq!(
        v.verify_at(&confused, NOW),
        Err(AuthError::AlgorithmNotAllowed)
    );
}
