//! Error types of the edge, and the one place where request errors become HTTP responses.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

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

/// A refused HTTP request on an edge route. Engine.IO errors carry the JSON body the reference
/// server sends (`{"code":N,"message":"..."}`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    #[error("Transport unknown")]
    UnknownTransport,
    #[error("Session ID unknown")]
    UnknownSid,
    #[error("Bad handshake method")]
    BadHandshakeMethod,
    #[error("Bad request")]
    BadRequest,
    #[error("Unsupported protocol version")]
    UnsupportedVersion,
    #[error("payload too large")]
    PayloadTooLarge,
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
    /// The Engine.IO error code, for the Engine.IO errors.
    fn engine_code(&self) -> Option<u8> {
        match self {
            HttpError::UnknownTransport => Some(0),
            HttpError::UnknownSid => Some(1),
            HttpError::BadHandshakeMethod => Some(2),
            HttpError::BadRequest => Some(3),
            HttpError::UnsupportedVersion => Some(5),
            _ => None,
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            HttpError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
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
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let status = self.status();
        match self.engine_code() {
            Some(code) => {
                let body =
                    serde_json::json!({ "code": code, "message": self.to_string() }).to_string();
                (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
            }
            None => (
                status,
                [(header::CONTENT_TYPE, "text/plain; charset=UTF-8")],
                self.to_string(),
            )
                .into_response(),
        }
    }
}
