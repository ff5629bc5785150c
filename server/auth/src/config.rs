//! `AuthConfig`: the `[auth]` settings a `Verifier` is built from, and the algorithm allow-list parsing.

use std::fmt;

use jsonwebtoken::Algorithm;

use crate::error::ConfigError;

/// Settings for verifying client tokens. Key material is given as text (the server reads files).
#[derive(Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// Allow-list of header `alg` values; only "HS256", "RS256" and "ES256" are accepted.
    pub algorithms: Vec<String>,
    /// Shared secret for HS256.
    pub hs256_secret: Option<String>,
    /// PEM text of the RSA public key for RS256.
    pub rsa_public_key_pem: Option<String>,
    /// PEM text of the EC P-256 public key for ES256.
    pub ec_public_key_pem: Option<String>,
    /// A JWKS document (JSON text); its keys are chosen by the token's `kid` (key rotation).
    pub jwks_json: Option<String>,
    /// Required `aud` value; not checked when `None` or empty.
    pub audience: Option<String>,
    /// Required `iss` value; not checked when `None` or empty.
    pub issuer: Option<String>,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds.
    pub leeway_secs: u64,
    /// Name of the claim listing the rooms / room patterns the user may join.
    pub rooms_claim: String,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            algorithms: vec!["HS256".to_owned()],
            hs256_secret: None,
            rsa_public_key_pem: None,
            ec_public_key_pem: None,
            jwks_json: None,
            audience: None,
            issuer: None,
            leeway_secs: 5,
            rooms_claim: "rooms".to_owned(),
        }
    }
}

impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |v: &Option<String>| if v.is_some() { "<set>" } else { "<unset>" };
        f.debug_struct("AuthConfig")
            .field("algorithms", &self.algorithms)
            .field("hs256_secret", &set(&self.hs256_secret))
            .field("rsa_public_key_pem", &set(&self.rsa_public_key_pem))
            .field("ec_public_key_pem", &set(&self.ec_public_key_pem))
            .field("jwks_json", &set(&self.jwks_json))
            .field("audience", &self.audience)
            .field("issuer", &self.issuer)
            .field("leeway_secs", &self.leeway_secs)
            .field("rooms_claim", &self.rooms_claim)
            .finish()
    }
}

/// Parses the allow-list (duplicates are harmless).
pub(crate) fn parse_algorithms(names: &[String]) -> Result<Vec<Algorithm>, ConfigError> {
    if names.is_empty() {
        return Err(ConfigError::NoAlgorithms);
    }
    let mut algs = Vec::with_capacity(names.len());
    for name in names {
        let alg = match name.as_str() {
            "HS256" => Algorithm::HS256,
            "RS256" => Algorithm::RS256,
            "ES256" => Algorithm::ES256,
            other => return Err(ConfigError::UnknownAlgorithm(other.to_owned())),
        };
        if !algs.contains(&alg) {
            algs.push(alg);
        }
    }
    Ok(algs)
}

/// `None` for an unset or empty optional string setting.
pub(crate) fn non_empty(v: &Option<String>) -> Option<String> {
    v.as_ref().filter(|s| !s.is_empty()).cloned()
}
