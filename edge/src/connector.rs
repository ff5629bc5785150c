//! How an edge opens its link stream to a core: over gRPC (`EdgeService.Link`,
//! the default), or through a connector the embedding process provides, such as
//! `herald serve` linking its edge to its own core in memory.

use std::pin::Pin;

use futures::Stream;
use futures::future::BoxFuture;
use herald_proto::v1::{LinkRequest, LinkResponse};
use tokio::sync::mpsc;

/// The core's side of a link: every response it sends, in order.
pub type LinkResponses = Pin<Box<dyn Stream<Item = Result<LinkResponse, tonic::Status>> + Send>>;

/// Opens a link: the edge's requests go in through `requests` (a bounded queue),
/// the core's responses come back as a stream that ends when the link does.
pub trait CoreConnector: Send + Sync + 'static {
    fn open(
        &self,
        requests: mpsc::Receiver<LinkRequest>,
    ) -> BoxFuture<'static, Result<LinkResponses, tonic::Status>>;
}
