//! The generated tonic service traits, each method delegating to its RPC file.

use herald_proto::v1::edge_service_server::EdgeService;
use herald_proto::v1::herald_service_server::HeraldService;
use herald_proto::v1::{
    EmitRequest, EmitResponse, LinkRequest, LinkResponse, SubscribeRequest, SubscribeResponse,
};
use tonic::{Request, Response, Status, Streaming};

use super::{EdgeApi, HeraldApi};
use crate::feed::FeedStream;

#[tonic::async_trait]
impl HeraldService for HeraldApi {
    async fn emit(&self, req: Request<EmitRequest>) -> Result<Response<EmitResponse>, Status> {
        Ok(Response::new(self.0.emit(req.into_inner()).await?))
    }

    type SubscribeStream = FeedStream<SubscribeResponse>;

    async fn subscribe(
        &self,
        req: Request<SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let stream = self.0.clone().subscribe(req.into_inner()).await?;
        Ok(Response::new(stream))
    }
}

#[tonic::async_trait]
impl EdgeService for EdgeApi {
    type LinkStream = FeedStream<LinkResponse>;

    async fn link(
        &self,
        req: Request<Streaming<LinkRequest>>,
    ) -> Result<Response<Self::LinkStream>, Status> {
        Ok(Response::new(self.0.clone().link(req.into_inner())))
    }
}
