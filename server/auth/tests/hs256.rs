//! HS256 verification: signature, time claims, aud/iss, sub, rooms, refusal of `none` and foreign algorithms.

mod common;

use common::*;
use herald_auth::{AuthConfig, AuthError, Verifier};
use serde_json::json;

#[test]
fn valid_token_yields_claims() {
    let v = verifier(&hs_config());
    let t = hs(
        SECRET,
        &json!({"sub": "alice", "exp": NOW + 60, "rooms": ["lobby"], "plan": "pro"}),
    );
    let c = v.verify_at(&t, NOW).unwrap();
    assert_eq!(c.sub, "alice");
    assert_eq!(c.exp, NOW + 60);
    assert_eq!(c.rooms, vec!["lobby".to_owned()]);
    assert_eq!(c.raw["plan"], "pro");
    assert!(c.raw.contains_key("exp"));
}

#[test]
fn valid_token_against_the_real_clock() {
    let v = verifier(&hs_config());
    let now = jsonwebtoken::get_current_timestamp();
    let t = hs(SECRET, &json!({"sub": "alice", "exp": now + 3600}));
    assert_eq!(v.verify(&t).unwrap().sub, "alice");
    let old = hs(SECRET, &json!({"sub": "alice", "exp": now - 3600}));
    assert_eq!(v.verify(&old), Err(AuthError::Expired));
}

#[test]
fn surrounding_whitespace_is_ignored() {
    let v = verifier(&hs_config());
    let t = hs(SECRET, &claims("alice"));
    assert!(v.verify_at(&format!("  {t}\n"), NOW).is_ok());
}

#[test]
fn expired_and_leeway() {
    let v = verifier(&hs_config()); // leeway 5
    let t = hs(SECRET, &json!({"sub": "a", "exp": NOW}));
    assert_eq!(v.verify_at(&t, NOW + 100), Err(AuthError::Expired));
    assert!(v.verify_at(&t, NOW + 3).is_ok(), "within leeway");
    assert_eq!(v.verify_at(&t, NOW + 5), Err(AuthError::Expired));

    let strict = verifier(&AuthConfig {
        leeway_secs: 0,
        ..hs_config()
    });
    assert_eq!(strict.verify_at(&t, NOW), Err(AuthError::Expired));
    assert!(strict.verify_at(&t, NOW - 1).is_ok());
}

#[test]
fn not_before() {
    let v = verifier(&hs_config());
    let t = hs(
        SECRET,
        &json!({"sub": "a", "exp": NOW + 600, "nbf": NOW + 60}),
    );
    assert_eq!(v.verify_at(&t, NOW), Err(AuthError::NotYetValid));
    assert!(v.verify_at(&t, NOW + 57).is_ok(), "within leeway");
    assert!(v.verify_at(&t, NOW + 60).is_ok());
}

#[test]
fn wrong_secret_or_tampering_is_invalid_signature() {
    let v = verifier(&hs_config());
    let t = hs("some-other-secret", &claims("alice"));
    assert_eq!(v.verify_at(&t, NOW), Err(AuthError::InvalidSignature));

    // Swap the payload of a genuine token for another user's.
    let good = hs(SECRET, &claims("alice"));
    let parts: Vec<&str> = good.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64(claims("mallory").to_string()),
        parts[2]
    );
    assert_eq!(v.verify_at(&forged, NOW), Err(AuthError::InvalidSignature));

    // No signature at all.
    let unsigned = format!("{}.{}.", parts[0], parts[1]);
    assert_eq!(
        v.verify_at(&unsigned, NOW),
        Err(AuthError::InvalidSignature)
    );
}

#[test]
fn alg_none_is_never_accepted() {
    let v = verifier(&hs_config());
    let payload = b64(claims("alice").to_string());
    let literal = format!("eyJhbGciOiJub25lIn0.{payload}.");
    assert_eq!(
        v.verify_at(&literal, NOW),
        Err(AuthError::AlgorithmNotAllowed)
    );
    for header in [
        r#"{"alg":"none","typ":"JWT"}"#,
        r#"{"alg":"None"}"#,
        r#"{"alg":"NONE"}"#,
    ] {
        let t = compact(header, &claims("alice"), "");
        assert_eq!(v.verify_at(&t, NOW), Err(AuthError::AlgorithmNotAllowed));
    }
    // A `none` header in front of a genuine HS256 signature is still refused.
    let good = hs(SECRET, &claims("alice"));
    let sig = good.rsplit('.').next().unwrap();
    let t = compact(r#"{"alg":"none"}"#, &claims("alice"), sig);
    assert_eq!(v.verify_at(&t, NOW), Err(AuthError::AlgorithmNotAllowed));
}

#[test]
fn algorithms_outside_the_allow_list_are_refused() {
    let rs_only = verifier(&AuthConfig {
        algorithms: vec!["RS256".into()],
        rsa_public_key_pem: Some(RSA_PUBLIC.into()),
        ..AuthConfig::default()
    });
    let t = hs(SECRET, &claims("alice"));
    assert_eq!(
        rs_only.verify_at(&t, NOW),
        Err(AuthError::AlgorithmNotAllowed)
    );

    // Classic RS/HS confusion: HMAC keyed with the (public) RSA PEM text.
    let confused = hs(RSA_PUBLIC, &claims("alice"));
    assert_eq!(
        rs_only.verify_at(&confused, NOW),
        Err(AuthError::AlgorithmNotAllowed)
    );
    // With both allowed, HS256 uses the HS256 secret, never the RSA key.
    let both = verifier(&AuthConfig {
        algorithms: vec!["HS256".into(), "RS256".into()],
        rsa_public_key_pem: Some(RSA_PUBLIC.into()),
        ..hs_config()
    });
    assert_eq!(
        both.verify_at(&confused, NOW),
        Err(AuthError::InvalidSignature)
    );
    assert!(both.verify_at(&t, NOW).is_ok());

    // HS512 is a real algorithm but not on the list.
    let hs512 = common::sign(
        jsonwebtoken::Algorithm::HS512,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
        None,
        &claims("alice"),
    );
    assert_eq!(
        verifier(&hs_config()).verify_at(&hs512, NOW),
        Err(AuthError::AlgorithmNotAllowed)
    );
}

#[test]
fn audience_checked_only_when_configured() {
    let with_aud =
        |aud: serde_json::Value| hs(SECRET, &json!({"sub": "a", "exp": NOW + 60, "aud": aud}));
    let v = verifier(&AuthConfig {
        audience: Some("herald".into()),
        ..hs_config()
    });
    assert!(v.verify_at(&with_aud(json!("herald")), NOW).is_ok());
    assert!(v.verify_at(&with_aud(json!(["x", "herald"])), NOW).is_ok());
    assert_eq!(
        v.verify_at(&with_aud(json!("other")), NOW),
        Err(AuthError::InvalidAudience)
    );
    assert_eq!(
        v.verify_at(&with_aud(json!(["x", "y"])), NOW),
        Err(AuthError::InvalidAudience)
    );
    assert_eq!(
        v.verify_at(&hs(SECRET, &claims("a")), NOW),
        Err(AuthError::InvalidAudience),
        "aud missing"
    );

    let unchecked = verifier(&AuthConfig {
        audience: Some(String::new()),
        ..hs_config()
    });
    assert!(unchecked.verify_at(&with_aud(json!("other")), NOW).is_ok());
    assert!(unchecked.verify_at(&hs(SECRET, &claims("a")), NOW).is_ok());
}

#[test]
fn issuer_checked_only_when_configured() {
    let with_iss = |iss: &str| hs(SECRET, &json!({"sub": "a", "exp": NOW + 60, "iss": iss}));
    let v = verifier(&AuthConfig {
        issuer: Some("https://id.example".into()),
        ..hs_config()
    });
    assert!(v.verify_at(&with_iss("https://id.example"), NOW).is_ok());
    assert_eq!(
        v.verify_at(&with_iss("https://evil.example"), NOW),
        Err(AuthError::InvalidIssuer)
    );
    assert_eq!(
        v.verify_at(&hs(SECRET, &claims("a")), NOW),
        Err(AuthError::InvalidIssuer)
    );
    let unchecked = verifier(&hs_config());
    assert!(unchecked.verify_at(&with_iss("anyone"), NOW).is_ok());
}

#[test]
fn exp_and_sub_are_required() {
    let v = verifier(&hs_config());
    let no_exp = hs(SECRET, &json!({"sub": "a"}));
    assert_eq!(v.verify_at(&no_exp, NOW), Err(AuthError::MissingExp));
    let no_sub = hs(SECRET, &json!({"exp": NOW + 60}));
    assert_eq!(v.verify_at(&no_sub, NOW), Err(AuthError::MissingSub));
    let empty_sub = hs(SECRET, &json!({"sub": "", "exp": NOW + 60}));
    assert_eq!(v.verify_at(&empty_sub, NOW), Err(AuthError::MissingSub));
    let numeric_sub = hs(SECRET, &json!({"sub": 42, "exp": NOW + 60}));
    assert_eq!(v.verify_at(&numeric_sub, NOW), Err(AuthError::MissingSub));
    let text_exp = hs(SECRET, &json!({"sub": "a", "exp": "tomorrow"}));
    assert_eq!(v.verify_at(&text_exp, NOW), Err(AuthError::Malformed));
}

#[test]
fn missing_and_garbage_tokens() {
    let v = verifier(&hs_config());
    assert_eq!(v.verify_at("", NOW), Err(AuthError::Missing));
    assert_eq!(v.verify_at("  \t\n", NOW), Err(AuthError::Missing));
    for garbage in [
        "garbage",
        "a.b",
        "a.b.c",
        "....",
        "Bearer x.y.z",
        "eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln",
    ] {
        assert_eq!(
            v.verify_at(garbage, NOW),
            Err(AuthError::Malformed),
            "{garbage}"
        );
    }
    let huge = format!(
        "{}.{}.x",
        b64(r#"{"alg":"HS256"}"#),
        "A".repeat(herald_auth::MAX_TOKEN_LEN)
    );
    assert_eq!(v.verify_at(&huge, NOW), Err(AuthError::Malformed));
    // A header without alg.
    let t = compact(r#"{"typ":"JWT"}"#, &claims("a"), "");
    assert_eq!(v.verify_at(&t, NOW), Err(AuthError::Malformed));
}

#[test]
fn rooms_claim_and_patterns() {
    let v = verifier(&hs_config());
    let t = hs(
        SECRET,
        &json!({"sub": "a", "exp": NOW + 60, "rooms": ["lobby", "campaign:*"]}),
    );
    let c = v.verify_at(&t, NOW).unwrap();
    assert!(c.may_join("lobby"));
    assert!(!c.may_join("lobby2"));
    assert!(!c.may_join("lob"));
    assert!(c.may_join("campaign:42"));
    assert!(c.may_join("campaign:"));
    assert!(!c.may_join("campaign"));
    assert!(!c.may_join("other"));

    let none = v.verify_at(&hs(SECRET, &claims("a")), NOW).unwrap();
    assert!(none.rooms.is_empty());
    assert!(!none.may_join("lobby"));

    let all = hs(
        SECRET,
        &json!({"sub": "a", "exp": NOW + 60, "rooms": ["*"]}),
    );
    let all = v.verify_at(&all, NOW).unwrap();
    assert!(all.may_join("anything"));
    assert!(all.may_join("campaign:7"));

    for bad in [
        json!("lobby"),
        json!({"lobby": true}),
        json!(["ok", 3]),
        json!(null),
    ] {
        let t = hs(SECRET, &json!({"sub": "a", "exp": NOW + 60, "rooms": bad}));
        assert_eq!(v.verify_at(&t, NOW), Err(AuthError::Malformed), "{bad}");
    }
}

#[test]
fn custom_rooms_claim_name() {
    let v = verifier(&AuthConfig {
        rooms_claim: "herald_rooms".into(),
        ..hs_config()
    });
    let t = hs(
        SECRET,
        &json!({"sub": "a", "exp": NOW + 60, "herald_rooms": ["team:*"], "rooms": 5}),
    );
    let c = v.verify_at(&t, NOW).unwrap();
    assert!(c.may_join("team:red"));
    assert!(!c.may_join("lobby"));
    assert_eq!(v.rooms_claim(), "herald_rooms");
}

#[test]
fn refusal_messages_match_the_contract() {
    let expected = [
        (AuthError::Missing, "missing token"),
        (AuthError::Malformed, "malformed token"),
        (AuthError::Expired, "token expired"),
        (AuthError::NotYetValid, "token not yet valid"),
        (AuthError::InvalidSignature, "invalid signature"),
        (AuthError::AlgorithmNotAllowed, "algorithm not allowed"),
        (AuthError::InvalidAudience, "invalid audience"),
        (AuthError::InvalidIssuer, "invalid issuer"),
        (AuthError::MissingExp, "token has no exp"),
        (AuthError::MissingSub, "token has no sub"),
        (AuthError::UnknownKey, "unknown signing key"),
    ];
    for (err, text) in expected {
        assert_eq!(err.to_string(), text);
        assert_eq!(err.as_str(), text);
    }
}

#[test]
fn verifier_is_shareable() {
    fn assert_traits<T: Clone + Send + Sync + 'static>() {}
    assert_traits::<Verifier>();
    let v = verifier(&hs_config());
    let t = hs(SECRET, &claims("alice"));
    let handle = {
        let v = v.clone();
        std::thread::spawn(move || v.verify_at(&t, NOW).map(|c| c.sub))
    };
    assert_eq!(handle.join().unwrap().unwrap(), "alice");
}
