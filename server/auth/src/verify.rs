//! `Verifier`: checks a client token (header alg allow-list, key choice, signature, claims).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::Algorithm;

use crate::claims::{ClaimPolicy, Claims, check_claims, refused_from};
use crate::config::{AuthConfig, non_empty, parse_algorithms};
use crate::error::{AuthError, ConfigError};
use crate::keys::KeySet;
use crate::token;

/// Longer tokens are refused as malformed before any decoding work.
pub const MAX_TOKEN_LEN: usize = 64 * 1024;

/// Verifies client tokens. Cheap to clone and share between tasks.
#[derive(Clone, Debug)]
pub struct Verifier {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    allowed: Vec<Algorithm>,
    keys: KeySet,
    policy: ClaimPolicy,
}

impl Verifier {
    /// Builds a verifier, checking the configuration and parsing every key up front.
    pub fn new(cfg: &AuthConfig) -> Result<Verifier, ConfigError> {
        let allowed = parse_algorithms(&cfg.algorithms)?;
        if cfg.rooms_claim.is_empty() {
            return Err(ConfigError::EmptyRoomsClaim);
        }
        let keys = KeySet::load(
            &allowed,
            cfg.hs256_secret.as_ref(),
            cfg.rsa_public_key_pem.as_ref(),
            cfg.ec_public_key_pem.as_ref(),
            cfg.jwks_json.as_ref(),
        )?;
        let policy = ClaimPolicy {
            audience: non_empty(&cfg.audience),
            issuer: non_empty(&cfg.issuer),
            leeway_secs: cfg.leeway_secs,
            rooms_claim: cfg.rooms_claim.clone(),
        };
        Ok(Verifier {
            inner: Arc::new(Inner {
                allowed,
                keys,
                policy,
            }),
        })
    }

    /// Verifies `token` against the current time.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        self.verify_at(token, now)
    }

    /// Verifies `token` as if the time were `now` (seconds since the Unix epoch).
    pub fn verify_at(&self, token: &str, now: u64) -> Result<Claims, AuthError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(AuthError::Missing);
        }
        if token.len() > MAX_TOKEN_LEN {
            return Err(AuthError::Malformed);
        }
        let raw = token::parse(token)?;

        // The header decides nothing until it passes the allow-list: this refuses `none` and
        // stops a token signed with HS256 over an RSA public key (algorithm confusion).
        let alg = self
            .inner
            .allowed
            .iter()
            .copied()
            .find(|a| alg_name(*a) == Some(raw.alg.as_str()))
            .ok_or(AuthError::AlgorithmNotAllowed)?;
        let key = self.inner.keys.select(alg, raw.kid.as_deref())?;
        let valid =
            jsonwebtoken::crypto::verify(raw.signature_b64, raw.signing_input.as_bytes(), key, alg)
                .unwrap_or(false);
        if !valid {
            return Err(AuthError::InvalidSignature);
        }
        check_claims(raw.payload, &self.inner.policy, now)
    }

    /// The first second (Unix time) at which a token expiring at `exp` is refused: `exp` plus the
    /// configured leeway, saturating. Whoever ends a session at expiry uses this, so a token is
    /// never accepted and kicked in the same second.
    pub fn refused_from(&self, exp: u64) -> u64 {
        refused_from(exp, self.inner.policy.leeway_secs)
    }

    /// The name of the claim holding the rooms list (for minting tokens that this verifier accepts).
    pub fn rooms_claim(&self) -> &str {
        &self.inner.policy.rooms_claim
    }
}

fn alg_name(alg: Algorithm) -> Option<&'static str> {
    match alg {
        Algorithm::HS256 => Some("HS256"),
        Algorithm::RS256 => Some("RS256"),
        Algorithm::ES256 => Some("ES256"),
        _ => None,
    }
}
