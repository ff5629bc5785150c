//! Service credentials: every herald.v1 call carries `authorization: Bearer <token>`.

use std::sync::Arc;

use tonic::{Request, Status};

/// Checks bearer tokens against the configured service tokens.
#[derive(Clone)]
pub struct Credentials {
    tokens: Arc<[String]>,
}

impl Credentials {
    pub fn new(tokens: &[String]) -> Self {
        Self {
            tokens: tokens.iter().filter(|t| !t.is_empty()).cloned().collect(),
        }
    }

    /// A tonic interceptor: refuses calls without a known token.
    pub fn check(&self, req: Request<()>) -> Result<Request<()>, Status> {
        let presented = req
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim);
        let peer = req
            .remote_addr()
            .map_or_else(|| "in-process".to_owned(), |a| a.to_string());
        match presented {
            None => {
                // Logged once per refused call, with the reason; never the token.
                tracing::warn!(%peer, reason = "missing service credential", "gRPC call refused");
                Err(Status::unauthenticated(
                    "missing service credential: send `authorization: Bearer <service token>`",
                ))
            }
            Some(t)
                if self
                    .tokens
                    .iter()
                    .any(|k| constant_time_eq(k.as_bytes(), t.as_bytes())) =>
            {
                Ok(req)
            }
            Some(_) => {
                tracing::warn!(%peer, reason = "invalid service credential", "gRPC call refused");
                Err(Status::unauthenticated("invalid service credential"))
            }
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(h: Option<&str>) -> Request<()> {
        let mut r = Request::new(());
        if let Some(h) = h {
            r.metadata_mut().insert("authorization", h.parse().unwrap());
        }
        r
    }

    #[test]
    fn accepts_known_token_only() {
        let c = Credentials::new(&["s3cret".into(), String::new()]);
        assert!(c.check(req(Some("Bearer s3cret"))).is_ok());
        assert!(c.check(req(Some("Bearer nope"))).is_err());
        assert!(c.check(req(Some("Bearer "))).is_err());
        assert!(c.check(req(Some("s3cret"))).is_err());
        assert!(c.check(req(None)).is_err());
    }
}
