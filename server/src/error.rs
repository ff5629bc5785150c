//! Core errors and the one place where they become gRPC statuses.

use herald_store::StoreError;
use tonic::Status;

/// Everything a core call can refuse or fail with.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("missing or invalid service credential")]
    Unauthenticated,
    #[error("broker unavailable: {0}")]
    BrokerUnavailable(String),
    #[error("{0}")]
    NotFound(String),
    #[error("server is shutting down")]
    ShuttingDown,
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("store unavailable: {0}")]
    StoreUnavailable(String),
    #[error("{0}")]
    Unavailable(String),
}

impl From<CoreError> for Status {
    fn from(e: CoreError) -> Self {
        let msg = e.to_string();
        match e {
            CoreError::InvalidArgument(_) => Status::invalid_argument(msg),
            CoreError::TooLarge(_) => Status::resource_exhausted(msg),
            CoreError::Unauthenticated => Status::unauthenticated(msg),
            CoreError::BrokerUnavailable(_)
            | CoreError::StoreUnavailable(_)
            | CoreError::Unavailable(_)
            | CoreError::ShuttingDown => Status::unavailable(msg),
            CoreError::FailedPrecondition(_) => Status::failed_precondition(msg),
            CoreError::NotFound(_) => Status::not_found(msg),
        }
    }
}

impl From<crate::presence::PresenceError> for CoreError {
    fn from(e: crate::presence::PresenceError) -> Self {
        CoreError::BrokerUnavailable(e.to_string())
    }
}

impl From<herald_index::TopicError> for CoreError {
    fn from(e: herald_index::TopicError) -> Self {
        CoreError::InvalidArgument(e.to_string())
    }
}

impl From<StoreError> for CoreError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(id) => CoreError::NotFound(format!("no task {id}")),
            StoreError::Conflict { .. } | StoreError::StaleLease { .. } => {
                CoreError::FailedPrecondition(e.to_string())
            }
            other => CoreError::StoreUnavailable(other.to_string()),
        }
    }
}
