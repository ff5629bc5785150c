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
    #[error("Unsupported protocol version")]
    UnsupportedVersion,
    /// What the Engine.IO layer refuses (its statuses are given here, with the rest).
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
    /// The Engine.IO error code, for the Engine.IO errors.
    fn engine_code(&self) -> Option<u8> {
        match self {
            HttpError::UnknownTransport => Some(0),
            HttpError::UnknownSid => Some(1),
            HttpError::BadHandshakeMethod => Some(2),
            HttpError::Refused(Refusal::BadRequest) => Some(3),
            HttpError::Refused(Refusal::OriginNotAllowed) => Some(4),
            HttpError::UnsupportedVersion => Some(5),
            _ => None,
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            HttpError::Refused(r) => match r {
                Refusal::BadRequest => StatusCode::BAD_REQUEST,
                Refusal::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
                Refusal::OriginNotAllowed => StatusCode::FORBIDDEN,
                Refusal::TooManySessions => StatusCode::SERVICE_UNAVAILABLE,
                Refusal::TooManySessionsFromIp | Refusal::HandshakeRate => {
                    StatusCode::TOO_MANY_REQUESTS
                }
                Refusal::WebsocketVersion => StatusCode::UPGRADE_REQUIRED,
                Refusal::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                Refusal::BodyTimeout | Refusal::HeaderTimeout => StatusCode::REQUEST_TIMEOUT,
            },
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

impl HttpError {
    /// The response's status, content type and body.
    fn parts(&self) -> (StatusCode, &'static str, String) {
        let status = self.status();
        match self.engine_code() {
            Some(code) => (
                status,
                "application/json",
                serde_json::json!({ "code": code, "message": self.to_string() }).to_string(),
            ),
            None => (status, "text/plain; charset=UTF-8", self.to_string()),
        }
    }

    /// A header the error's status calls for.
    fn extra_header(&self) -> Option<(header::HeaderName, &'static str)> {
        matches!(self, HttpError::Refused(Refusal::WebsocketVersion))
            .then_some((header::SEC_WEBSOCKET_VERSION, "13"))
    }

    /// The whole HTTP/1.1 response, for a connection the edge answers without the HTTP stack
    /// (it is closed after).
    pub(crate) fn http1(&self) -> Vec<u8> {
        let (status, content_type, body) = self.parts();
        let extra = self
            .extra_header()
            .map(|(n, v)| format!("{n}: {v}\r\n"))
            .unwrap_or_default();
        format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{extra}\
             Connection: close\r\n\r\n{body}",
            status.as_u16(),
            status.canonical_reason().unwrap_or(""),
            body.len()
        )
        .into_bytes()
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let (status, content_type, body) = self.parts();
        let mut r = (status, [(header::CONTENT_TYPE, content_type)], body).into_response();
        if let Some((name, value)) = self.extra_header() {
            r.headers_mut()
                .insert(name, header::HeaderValue::from_static(value));
        }
        r
    }
}
