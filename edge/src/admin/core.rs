//! Calls from the admin API to the core's public gRPC API, with the edge's service credential.

use herald_proto::v1::herald_service_client::HeraldServiceClient;
use herald_proto::v1::task_service_client::TaskServiceClient;
use tonic::transport::Channel;

use crate::edge::Edge;

/// A request carrying `authorization: Bearer <edge.service_token>`.
pub(super) fn request<T>(edge: &Edge, msg: T) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    req.metadata_mut().insert("authorization", edge.link.auth());
    req
}

pub(super) fn herald(edge: &Edge) -> HeraldServiceClient<Channel> {
    HeraldServiceClient::new(edge.link.channel())
}

pub(super) fn tasks(edge: &Edge) -> TaskServiceClient<Channel> {
    TaskServiceClient::new(edge.link.channel())
}
