//! The in-process link: an edge in the same process as its core hands its
//! request queue straight to the core and reads the core's feed, with no
//! protobuf encoding, HTTP/2 or loopback socket in between.

use std::sync::Arc;

use futures::StreamExt;
use futures::future::BoxFuture;
use herald_edge::{CoreConnector, LinkResponses};
use herald_proto::v1::LinkRequest;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::rpc::Api;

/// Opens links to the core it holds.
pub struct LocalLink(pub(crate) Arc<Api>);

impl CoreConnector for LocalLink {
    fn open(
        &self,
        requests: mpsc::Receiver<LinkRequest>,
    ) -> BoxFuture<'static, Result<LinkResponses, tonic::Status>> {
        let api = self.0.clone();
        Box::pin(async move {
            let inbound = ReceiverStream::new(requests).map(Ok);
            let responses: LinkResponses = Box::pin(api.link(inbound));
            Ok(responses)
        })
    }
}
