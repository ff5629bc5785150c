//! The single error type every decoder in this crate returns.

use thiserror::Error;

/// Why a frame, record or packet could not be decoded.
///
/// Every variant means "this peer sent something that is not valid Engine.IO v4 / Socket.IO v5"; the edge closes
/// that one connection cleanly when it sees any of them.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CodecError {
    /// The frame, record or payload was empty.
    #[error("empty packet")]
    Empty,
    /// The first character is not a known packet type for this layer.
    #[error("unknown packet type {0:?}")]
    UnknownType(char),
    /// A packet type that carries no data was followed by data.
    #[error("unexpected data after packet type {0:?}")]
    UnexpectedData(char),
    /// A polling payload was not valid UTF-8.
    #[error("payload is not valid UTF-8")]
    BadUtf8,
    /// A `b<base64>` record did not hold valid base64.
    #[error("bad base64 in binary record")]
    BadBase64,
    /// The namespace is malformed (no terminating comma, not starting with '/', ...).
    #[error("bad namespace: {0}")]
    BadNamespace(&'static str),
    /// The acknowledgement id is not a decimal number that fits in a u64.
    #[error("bad ack id")]
    BadAckId,
    /// The `<n>-` attachment count of a binary packet is missing, malformed or too large.
    #[error("bad attachment count")]
    BadAttachmentCount,
    /// An attachment count was given on a packet kind that is not BINARY_EVENT / BINARY_ACK.
    #[error("attachment count on a non-binary packet")]
    AttachmentsOnNonBinary,
    /// The data part is not valid JSON.
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    /// The data part is valid JSON but has the wrong shape for the packet kind.
    #[error("wrong payload shape: {0}")]
    WrongShape(&'static str),
    /// More binary attachments arrived than the packet announced.
    #[error("too many attachments")]
    TooManyAttachments,
    /// The attachments of one packet together exceed the byte limit of the assembly.
    #[error("attachments too large")]
    AttachmentsTooLarge,
    /// The number of attachments given does not match the count the packet announced.
    #[error("attachment count mismatch: packet announces {expected}, got {got}")]
    AttachmentMismatch {
        /// What the packet header announced.
        expected: usize,
        /// How many were supplied.
        got: usize,
    },
    /// A `{"_placeholder":true,"num":N}` object has a missing, non-integer or out-of-range `num`.
    #[error("bad binary placeholder")]
    BadPlaceholder,
    /// A binary placeholder appears nested inside an object/array argument; only top-level binary args are supported.
    #[error("nested binary not supported")]
    NestedBinary,
    /// The packet kind is not the one the caller asked to interpret (e.g. an ACK given to `event_from_packet`).
    #[error("wrong packet kind for this operation")]
    WrongKind,
}
