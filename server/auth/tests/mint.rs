//! `mint_hs256`: minted dev tokens verify with the same secret and carry the requested claims.

mod common;

use common::*;
use herald_auth::{
    AuthConfig, AuthError, MintError, MintOptions, RoomPatternError, mint_hs256,
    mint_hs256_with_rooms_claim, validate_room_pattern,
};

fn opts(sub: &str) -> MintOptions {
    MintOptions {
        sub: sub.into(),
        ttl_secs: 3600,
        audience: None,
        issuer: None,
        rooms: Vec::new(),
    }
}

#[test]
fn minted_token_verifies() {
    let t = mint_hs256(
        SECRET,
        &MintOptions {
            rooms: vec!["lobby".into(), "campaign:*".into()],
            ..opts("alice")
        },
    )
    .unwrap();
    let c = verifier(&hs_config()).verify(&t).unwrap();
    assert_eq!(c.sub, "alice");
    let iat = c.raw["iat"].as_u64().unwrap();
    assert_eq!(c.exp, iat + 3600);
    assert!(c.may_join("campaign:9"));
    assert!(c.may_join("lobby"));
    assert!(!c.may_join("admin"));
    assert_eq!(t.matches('.').count(), 2);
}

#[test]
fn minted_token_fails_with_another_secret() {
    let t = mint_hs256("another-secret", &opts("alice")).unwrap();
    assert_eq!(
        verifier(&hs_config()).verify(&t),
        Err(AuthError::InvalidSignature)
    );
}

#[test]
fn audience_and_issuer_are_written() {
    let t = mint_hs256(
        SECRET,
        &MintOptions {
            audience: Some("herald".into()),
            issuer: Some("dev".into()),
            ..opts("alice")
        },
    )
    .unwrap();
    let v = verifier(&AuthConfig {
        audience: Some("herald".into()),
        issuer: Some("dev".into()),
        ..hs_config()
    });
    let c = v.verify(&t).unwrap();
    assert_eq!(c.raw["aud"], "herald");
    assert_eq!(c.raw["iss"], "dev");
    let plain = mint_hs256(SECRET, &opts("alice")).unwrap();
    assert_eq!(v.verify(&plain), Err(AuthError::InvalidAudience));
}

#[test]
fn custom_rooms_claim() {
    let o = MintOptions {
        rooms: vec!["team:*".into()],
        ..opts("alice")
    };
    let t = mint_hs256_with_rooms_claim(SECRET, &o, "perm").unwrap();
    let v = verifier(&AuthConfig {
        rooms_claim: "perm".into(),
        ..hs_config()
    });
    assert!(v.verify(&t).unwrap().may_join("team:a"));
}

#[test]
fn refuses_bad_input() {
    assert_eq!(mint_hs256("", &opts("a")), Err(MintError::EmptySecret));
    assert_eq!(mint_hs256(SECRET, &opts("")), Err(MintError::EmptySub));
    let zero = MintOptions {
        ttl_secs: 0,
        ..opts("a")
    };
    assert_eq!(mint_hs256(SECRET, &zero), Err(MintError::ZeroTtl));
    let bad = MintOptions {
        rooms: vec!["ok".into(), "x*y".into()],
        ..opts("a")
    };
    assert_eq!(
        mint_hs256(SECRET, &bad),
        Err(MintError::Room(RoomPatternError::MisplacedWildcard(
            "x*y".into()
        )))
    );
}

#[test]
fn room_patterns() {
    assert!(validate_room_pattern("lobby").is_ok());
    assert!(validate_room_pattern("campaign:*").is_ok());
    assert!(validate_room_pattern("*").is_ok());
    assert_eq!(validate_room_pattern(""), Err(RoomPatternError::Empty));
    assert!(validate_room_pattern("*a").is_err());
    assert!(validate_room_pattern("a*b*").is_err());
}
