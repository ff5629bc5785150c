//! One answer for requests over `core.max_event_bytes`: tonic refuses a message above its decoding
//! limit (set just above the event limit) with OUT_OF_RANGE before any handler runs; this layer
//! turns that answer into RESOURCE_EXHAUSTED naming the configured limit, as the handlers do.

use tonic::Status;
use tonic::codegen::http;

/// Room for what a request carries besides its arguments (targets, names, keys, framing).
pub const ENVELOPE_BYTES: usize = 64 * 1024;

/// The largest gRPC message the core decodes, given the event limit.
pub fn decoding_limit(max_event_bytes: usize) -> usize {
    max_event_bytes.saturating_add(ENVELOPE_BYTES)
}

/// Rewrites tonic's "decoded message length too large" answer (see the module docs).
pub fn rewrite(
    max_event_bytes: usize,
) -> impl Fn(http::Response<tonic::body::Body>) -> http::Response<tonic::body::Body> + Clone {
    move |mut resp| {
        let too_large = Status::from_header_map(resp.headers()).is_some_and(|s| {
            s.code() == tonic::Code::OutOfRange
                && s.message().contains("decoded message length too large")
        });
        if too_large {
            let status = Status::resource_exhausted(format!(
                "request too large: the limit is {max_event_bytes} bytes (core.max_event_bytes)"
            ));
            let headers = resp.headers_mut();
            headers.remove("grpc-status");
            headers.remove("grpc-message");
            headers.remove("grpc-status-details-bin");
            let _ = status.add_header(headers);
        }
        resp
    }
}
