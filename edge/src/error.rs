//! Error types of the edge, and the one place where request errors become HTTP responses.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use herald_engine::Refusal;

/// Why [`crate::run`] failed.
#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    /// Serving HTTP failed.
    #[error("edge http server: {0}")]
    Io(#[from] std::io::Error),
    /// A core URL is not a valid URI (or there is none).
    #[error("edge.core_urls {0:?}: {1}")]
    BadCoreUrl(String, String),
    /// `service_token` cannot be sent as a header value.
    #[error("edge.service_token: not a valid header value")]
    BadServiceToken,
}

/// A refused HTTP request on an edge route; the engine's refusals answer as the engine renders
/// them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// What the Engine.IO layer refuses.
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("not found")]
    NotFound,
    /// A bad `/v1/emit` body.
    #[error("{0}")]
    Invalid(String),
    /// The core refused or failed a forwarded call.
    #[error("{1}")]
    Grpc(tonic::Code, String),
}

impl From<tonic::Status> for HttpError {
    fn from(s: tonic::Status) -> Self {
        HttpError::Grpc(s.code(), s.message().to_owned())
    }
}

impl HttpError {
    fn status(&self) -> StatusCode {
        match self {
            HttpError::Refused(r) => r.status(),
            HttpError::NotFound => StatusCode::NOT_FOUND,
            HttpError::Invalid(_) => StatusCode::BAD_REQUEST,
            HttpError::Grpc(code, _) => match code {
                tonic::Code::InvalidArgument
                | tonic::Code::FailedPrecondition
                | tonic::Code::OutOfRange => StatusCode::BAD_REQUEST,
                tonic::Code::Unauthenticated => StatusCode::UNAUTHORIZED,
                tonic::Code::PermissionDenied => StatusCode::FORBIDDEN,
                tonic::Code::NotFound => StatusCode::NOT_FOUND,
                tonic::Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
                tonic::Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
                tonic::Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
                _ => StatusCode::BAD_GATEWAY,
            },
        }
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        match self {
            HttpError::Refused(r) => r.into_response(),
            other => (
                other.status(),
                [(header::CONTENT_TYPE, "text/plain; charset=UTF-8")],
                other.to_string(),
            )
                .into_response(),
        }
    }
}
