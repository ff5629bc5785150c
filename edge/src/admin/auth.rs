//! The admin secret check: an extractor every admin API handler takes, so none can forget it.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use super::error::AdminError;
use crate::edge::Edge;

/// Proof that the request carried `Authorization: Bearer <edge.admin_secret>`.
pub(crate) struct Admin;

impl FromRequestParts<Arc<Edge>> for Admin {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, edge: &Arc<Edge>) -> Result<Self, AdminError> {
        let Some(secret) = edge.sio.config.admin_secret.as_deref() else {
            return Err(AdminError::Disabled);
        };
        let given = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(herald_engine::handshake::bearer_value);
        match given {
            Some(g) if same(g.as_bytes(), secret.as_bytes()) => Ok(Admin),
            _ => Err(AdminError::Unauthorized),
        }
    }
}

/// Compares without stopping at the first difference, so timing does not tell how much matched.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::same;

    #[test]
    fn secrets_compare_whole() {
        assert!(same(b"s3cret", b"s3cret"));
        assert!(!same(b"s3cret", b"s3cres"));
        assert!(!same(b"s3cret", b"s3cret!"));
        assert!(!same(b"", b"x"));
    }
}
