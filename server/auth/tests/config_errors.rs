//! `Verifier::new` configuration checks: algorithm names, required keys, bad PEM / JWKS, rooms claim.

mod common;

use common::*;
use herald_auth::{AuthConfig, ConfigError, Verifier};

fn err(cfg: AuthConfig) -> ConfigError {
    match Verifier::new(&cfg) {
        Ok(_) => panic!("config unexpectedly accepted: {cfg:?}"),
        Err(e) => e,
    }
}

#[test]
fn default_config_needs_only_a_secret() {
    assert!(Verifier::new(&hs_config()).is_ok());
    let e = err(AuthConfig::default());
    assert_eq!(e, ConfigError::MissingHs256Secret);
    assert_eq!(
        e.to_string(),
        "auth.hs256_secret: required when HS256 is allowed"
    );
    let empty = AuthConfig {
        hs256_secret: Some(String::new()),
        ..AuthConfig::default()
    };
    assert_eq!(err(empty), ConfigError::MissingHs256Secret);
}

#[test]
fn algorithm_names() {
    let with = |algs: &[&str]| AuthConfig {
        algorithms: algs.iter().map(|a| a.to_string()).collect(),
        ..hs_config()
    };
    let e = err(with(&["HS512x"]));
    assert_eq!(
        e.to_string(),
        "auth.algorithms: unknown algorithm \"HS512x\""
    );
    for name in ["none", "HS512", "RS384", "PS256", "EdDSA", "hs256", ""] {
        assert_eq!(
            err(with(&["HS256", name])),
            ConfigError::UnknownAlgorithm(name.to_owned())
        );
    }
    assert_eq!(err(with(&[])), ConfigError::NoAlgorithms);
    assert!(err(with(&[])).to_string().starts_with("auth.algorithms: "));
    assert!(Verifier::new(&with(&["HS256", "HS256"])).is_ok());
}

#[test]
fn asymmetric_algorithms_need_keys() {
    let rs = AuthConfig {
        algorithms: vec!["RS256".into()],
        ..AuthConfig::default()
    };
    let e = err(rs);
    assert_eq!(e, ConfigError::MissingRsaKey);
    assert!(
        e.to_string()
            .starts_with("auth.rsa_public_key_file: required")
    );
    let es = AuthConfig {
        algorithms: vec!["ES256".into()],
        ..AuthConfig::default()
    };
    let e = err(es);
    assert_eq!(e, ConfigError::MissingEcKey);
    assert!(
        e.to_string()
            .starts_with("auth.ec_public_key_file: required")
    );
    // HS256 not allowed: no secret needed.
    let rs_ok = AuthConfig {
        algorithms: vec!["RS256".into()],
        rsa_public_key_pem: Some(RSA_PUBLIC.into()),
        ..AuthConfig::default()
    };
    assert!(Verifier::new(&rs_ok).is_ok());
}

#[test]
fn bad_rsa_pem() {
    for pem in [
        "not a pem at all",
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        EC_PUBLIC,
        RSA_PRIVATE,
    ] {
        let cfg = AuthConfig {
            algorithms: vec!["RS256".into()],
            rsa_public_key_pem: Some(pem.into()),
            ..AuthConfig::default()
        };
        let e = err(cfg);
        assert_eq!(e, ConfigError::BadRsaKey, "{pem}");
        assert_eq!(
            e.to_string(),
            "auth.rsa_public_key_file: not a PEM RSA public key"
        );
    }
}

#[test]
fn bad_ec_pem() {
    for pem in ["garbage", RSA_PUBLIC, EC_PRIVATE, EC384_PUBLIC] {
        let cfg = AuthConfig {
            algorithms: vec!["ES256".into()],
            ec_public_key_pem: Some(pem.into()),
            ..AuthConfig::default()
        };
        let e = err(cfg);
        assert_eq!(e, ConfigError::BadEcKey, "{pem}");
        assert!(e.to_string().starts_with("auth.ec_public_key_file: "));
    }
}

#[test]
fn bad_jwks() {
    let with = |doc: &str| AuthConfig {
        algorithms: vec!["RS256".into()],
        jwks_json: Some(doc.into()),
        ..AuthConfig::default()
    };
    let cases = [
        "not json",
        r#"{"no_keys": []}"#,
        r#"{"keys": []}"#,
        r#"{"keys": [{"kty": "RSA", "kid": "x", "n": "", "e": "AQAB"}]}"#,
        r#"{"keys": [{"kty": "RSA", "kid": "x", "n": "!!", "e": "AQAB"}]}"#,
        // Only an encryption key.
        r#"{"keys": [{"kty": "RSA", "use": "enc", "kid": "x", "n": "AQAB", "e": "AQAB"}]}"#,
    ];
    for doc in cases {
        let e = err(with(doc));
        assert!(matches!(e, ConfigError::BadJwks(_)), "{doc}: {e:?}");
        assert!(e.to_string().starts_with("auth.jwks_file: "), "{e}");
    }
    let mut dup: serde_json::Value = serde_json::from_str(JWKS).unwrap();
    let first = dup["keys"][0].clone();
    dup["keys"].as_array_mut().unwrap().push(first);
    let e = err(with(&dup.to_string()));
    assert!(e.to_string().contains("duplicate kid"), "{e}");

    assert!(Verifier::new(&with(JWKS)).is_ok());
}

#[test]
fn empty_rooms_claim_name() {
    let cfg = AuthConfig {
        rooms_claim: String::new(),
        ..hs_config()
    };
    assert_eq!(err(cfg), ConfigError::EmptyRoomsClaim);
}

#[test]
fn debug_output_hides_key_material() {
    let cfg = AuthConfig {
        rsa_public_key_pem: Some(RSA_PUBLIC.into()),
        ..hs_config()
    };
    let text = format!("{cfg:?}");
    assert!(!text.contains(SECRET));
    assert!(!text.contains("BEGIN"));
    let v = Verifier::new(&cfg).unwrap();
    assert!(!format!("{v:?}").contains(SECRET));
}
