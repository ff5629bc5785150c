//! The admin API's errors and the one place they become HTTP answers: a status and `{"error": "..."}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Why an admin request was refused or failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AdminError {
    /// `edge.admin_secret` is empty.
    #[error("the admin console is disabled: set edge.admin_secret to enable it")]
    Disabled,
    /// No `Authorization: Bearer <admin secret>`, or another secret.
    #[error("wrong or missing admin secret (send Authorization: Bearer <edge.admin_secret>)")]
    Unauthorized,
    /// A bad query or body.
    #[error("{0}")]
    Invalid(String),
    /// Nothing matched (an unknown task, a user with no connection).
    #[error("{0}")]
    NotFound(String),
    /// The core refused or failed the call.
    #[error("{1}")]
    Core(tonic::Code, String),
}

impl From<tonic::Status> for AdminError {
    fn from(s: tonic::Status) -> Self {
        AdminError::Core(s.code(), s.message().to_owned())
    }
}

impl AdminError {
    fn status(&self) -> StatusCode {
        match self {
            AdminError::Disabled | AdminError::NotFound(_) => StatusCode::NOT_FOUND,
            AdminError::Unauthorized => StatusCode::UNAUTHORIZED,
            AdminError::Invalid(_) => StatusCode::BAD_REQUEST,
            AdminError::Core(code, _) => match code {
                tonic::Code::InvalidArgument | tonic::Code::OutOfRange => StatusCode::BAD_REQUEST,
                tonic::Code::FailedPrecondition => StatusCode::CONFLICT,
                tonic::Code::NotFound => StatusCode::NOT_FOUND,
                tonic::Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
                tonic::Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
                tonic::Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
                _ => StatusCode::BAD_GATEWAY,
            },
        }
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let mut r = (self.status(), Json(json!({ "error": self.to_string() }))).into_response();
        if matches!(self, AdminError::Unauthorized) {
            r.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"herald-admin\""),
            );
        }
        r
    }
}
