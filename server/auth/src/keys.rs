//! The verification keys: static PEM keys / HS256 secret, JWKS entries by `kid`, and choosing the key for a token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

use crate::error::{AuthError, ConfigError};

/// One usable key from the JWKS document.
#[derive(Debug)]
struct JwksEntry {
    kid: Option<String>,
    alg: Algorithm,
    key: DecodingKey,
}

/// Every key a verifier may use, each tied to exactly one algorithm.
#[derive(Debug, Default)]
pub(crate) struct KeySet {
    hs256: Option<DecodingKey>,
    rs256: Option<DecodingKey>,
    es256: Option<DecodingKey>,
    jwks: Vec<JwksEntry>,
}

/// Treats `Some("")` / whitespace-only text as not configured.
fn present(text: Option<&String>) -> Option<&str> {
    text.map(String::as_str).filter(|t| !t.trim().is_empty())
}

impl KeySet {
    /// Loads and checks every configured key. `allowed` is the algorithm allow-list; JWKS keys
    /// for other algorithms are ignored, and each allowed algorithm must end up with a key.
    pub(crate) fn load(
        allowed: &[Algorithm],
        hs256_secret: Option<&String>,
        rsa_pem: Option<&String>,
        ec_pem: Option<&String>,
        jwks_json: Option<&String>,
    ) -> Result<KeySet, ConfigError> {
        let mut set = KeySet {
            hs256: hs256_secret
                .filter(|s| !s.trim().is_empty())
                .map(|s| DecodingKey::from_secret(s.as_bytes())),
            ..KeySet::default()
        };
        if let Some(pem) = present(rsa_pem) {
            let key =
                DecodingKey::from_rsa_pem(pem.as_bytes()).map_err(|_| ConfigError::BadRsaKey)?;
            if !usable(Algorithm::RS256, &key) {
                return Err(ConfigError::BadRsaKey);
            }
            set.rs256 = Some(key);
        }
        if let Some(pem) = present(ec_pem) {
            let key =
                DecodingKey::from_ec_pem(pem.as_bytes()).map_err(|_| ConfigError::BadEcKey)?;
            if !usable(Algorithm::ES256, &key) {
                return Err(ConfigError::BadEcKey);
            }
            set.es256 = Some(key);
        }
        if let Some(doc) = present(jwks_json) {
            set.jwks = load_jwks(doc, allowed)?;
        }

        for alg in allowed {
            if set.static_key(*alg).is_none() && !set.jwks.iter().any(|e| e.alg == *alg) {
                return Err(match alg {
                    Algorithm::HS256 => ConfigError::MissingHs256Secret,
                    Algorithm::RS256 => ConfigError::MissingRsaKey,
                    _ => ConfigError::MissingEcKey,
                });
            }
        }
        Ok(set)
    }

    fn static_key(&self, alg: Algorithm) -> Option<&DecodingKey> {
        match alg {
            Algorithm::HS256 => self.hs256.as_ref(),
            Algorithm::RS256 => self.rs256.as_ref(),
            Algorithm::ES256 => self.es256.as_ref(),
            _ => None,
        }
    }

    /// The key for a token signed with `alg` (already allow-listed) naming `kid`:
    /// 1. a JWKS key with that `kid` (it must be meant for `alg`, else `AlgorithmNotAllowed`);
    /// 2. otherwise the static key for `alg`;
    /// 3. otherwise, for a token without `kid`, the only JWKS key for `alg`;
    /// 4. otherwise `UnknownKey`.
    pub(crate) fn select(
        &self,
        alg: Algorithm,
        kid: Option<&str>,
    ) -> Result<&DecodingKey, AuthError> {
        if let Some(kid) = kid
            && let Some(entry) = self.jwks.iter().find(|e| e.kid.as_deref() == Some(kid))
        {
            return if entry.alg == alg {
                Ok(&entry.key)
            } else {
                Err(AuthError::AlgorithmNotAllowed)
            };
        }
        if let Some(key) = self.static_key(alg) {
            return Ok(key);
        }
        if kid.is_none() {
            let mut candidates = self.jwks.iter().filter(|e| e.alg == alg);
            if let (Some(only), None) = (candidates.next(), candidates.next()) {
                return Ok(&only.key);
            }
        }
        Err(AuthError::UnknownKey)
    }
}

/// Whether `key` can be used to verify `alg` signatures (the crypto backend accepts it).
fn usable(alg: Algorithm, key: &DecodingKey) -> bool {
    // Building a verifier parses EC keys; the probe signature is simply wrong, which is fine.
    if jsonwebtoken::crypto::verify("", b"probe", key, alg).is_err() {
        return false;
    }
    match alg {
        Algorithm::RS256 => rsa_modulus_ok(key),
        _ => true,
    }
}

/// RSA keys are only parsed when a signature is checked, so parse the DER form now (this also
/// refuses private keys, which `from_rsa_pem` would otherwise take) and require the 2048-bit
/// minimum of RFC 7518 section 3.3.
fn rsa_modulus_ok(key: &DecodingKey) -> bool {
    let Ok(jwk) = Jwk::from_decoding_key(key, None) else {
        return false;
    };
    let AlgorithmParameters::RSA(params) = &jwk.algorithm else {
        return false;
    };
    let (Ok(n), Ok(e)) = (
        URL_SAFE_NO_PAD.decode(&params.n),
        URL_SAFE_NO_PAD.decode(&params.e),
    ) else {
        return false;
    };
    let significant = |bytes: &[u8]| bytes.iter().skip_while(|b| **b == 0).count();
    significant(&n) >= 256 && significant(&e) > 0
}

/// Parses a JWKS document, keeping the signing keys usable with an allowed algorithm.
fn load_jwks(doc: &str, allowed: &[Algorithm]) -> Result<Vec<JwksEntry>, ConfigError> {
    let bad = |msg: String| ConfigError::BadJwks(msg);
    let value: Value =
        serde_json::from_str(doc).map_err(|e| bad(format!("not valid JSON: {e}")))?;
    let keys = value
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("not a JWKS document (no \"keys\" array)".into()))?;

    let mut entries: Vec<JwksEntry> = Vec::new();
    for (index, key_value) in keys.iter().enumerate() {
        let name = match key_value.get("kid").and_then(Value::as_str) {
            Some(kid) => format!("key {kid:?}"),
            None => format!("key #{index}"),
        };
        let jwk: Jwk = serde_json::from_value(key_value.clone())
            .map_err(|e| bad(format!("{name}: not a JWK: {e}")))?;
        let Some(alg) = signing_alg(&jwk) else {
            continue;
        };
        if !allowed.contains(&alg) {
            continue;
        }
        let key = DecodingKey::from_jwk(&jwk)
            .ok()
            .filter(|key| usable(alg, key))
            .ok_or_else(|| bad(format!("{name}: not a valid {alg:?} key")))?;
        let kid = jwk.common.key_id.clone();
        if kid.is_some() && entries.iter().any(|e| e.kid == kid) {
            return Err(bad(format!("{name}: duplicate kid")));
        }
        entries.push(JwksEntry { kid, alg, key });
    }
    if entries.is_empty() {
        return Err(bad("no signing key for the allowed algorithms".into()));
    }
    Ok(entries)
}

/// The one algorithm (of HS256, RS256, ES256) a JWK can verify, or `None` when it is an
/// encryption key, a key for another algorithm, or a key type we do not support.
fn signing_alg(jwk: &Jwk) -> Option<Algorithm> {
    if matches!(jwk.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature) {
        return None;
    }
    let by_type = match &jwk.algorithm {
        AlgorithmParameters::OctetKey(_) => Algorithm::HS256,
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => Algorithm::ES256,
        _ => return None,
    };
    match jwk.common.key_algorithm {
        None => Some(by_type),
        Some(declared) if KeyAlgorithm::from(by_type) == declared => Some(by_type),
        Some(_) => None,
    }
}
