//! The generated tonic service traits, each method delegating to its RPC file.

use herald_proto::v1::edge_service_server::EdgeService;
use herald_proto::v1::herald_service_server::HeraldService;
use herald_proto::v1::task_service_server::TaskService;
use herald_proto::v1::{
    CancelTaskRequest, CancelTaskResponse, GetTaskRequest, GetTaskResponse, ScrapeTaskRequest,
    ScrapeTaskResponse, SubmitTaskRequest, SubmitTaskResponse, WatchTasksRequest,
    WatchTasksResponse,
};
use herald_proto::v1::{
    DisconnectRequest, DisconnectResponse, EmitRequest, EmitResponse, HandleRequest,
    HandleResponse, HistoryRequest, HistoryResponse, JoinRequest, JoinResponse, LeaveRequest,
    LeaveResponse, LinkRequest, LinkResponse, PresenceRequest, PresenceResponse, StatsRequest,
    StatsResponse, SubscribeRequest,
};
use tonic::{Request, Response, Status, Streaming};

use super::{EdgeApi, HeraldApi, TaskApi};
use crate::feed::FeedStream;

#[tonic::async_trait]
impl HeraldService for HeraldApi {
    async fn emit(&self, req: Request<EmitRequest>) -> Result<Response<EmitResponse>, Status> {
        Ok(Response::new(self.0.emit(req.into_inner()).await?))
    }

    type SubscribeStream = super::subscribe::SubscribeStream;

    async fn subscribe(
        &self,
        req: Request<SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let stream = self.0.clone().subscribe(req.into_inner()).await?;
        Ok(Response::new(stream))
    }

    async fn join(&self, req: Request<JoinRequest>) -> Result<Response<JoinResponse>, Status> {
        Ok(Response::new(self.0.join_rpc(req.into_inner()).await?))
    }

    async fn leave(&self, req: Request<LeaveRequest>) -> Result<Response<LeaveResponse>, Status> {
        Ok(Response::new(self.0.leave_rpc(req.into_inner()).await?))
    }

    async fn presence(
        &self,
        req: Request<PresenceRequest>,
    ) -> Result<Response<PresenceResponse>, Status> {
        Ok(Response::new(self.0.presence(req.into_inner()).await?))
    }

    async fn disconnect(
        &self,
        req: Request<DisconnectRequest>,
    ) -> Result<Response<DisconnectResponse>, Status> {
        Ok(Response::new(self.0.disconnect(req.into_inner()).await?))
    }

    async fn history(
        &self,
        req: Request<HistoryRequest>,
    ) -> Result<Response<HistoryResponse>, Status> {
        Ok(Response::new(self.0.history(req.into_inner()).await?))
    }

    async fn stats(&self, _req: Request<StatsRequest>) -> Result<Response<StatsResponse>, Status> {
        Ok(Response::new(self.0.stats().await?))
    }

    type HandleStream = FeedStream<HandleResponse>;

    async fn handle(
        &self,
        req: Request<Streaming<HandleRequest>>,
    ) -> Result<Response<Self::HandleStream>, Status> {
        Ok(Response::new(
            self.0.clone().handle(req.into_inner()).await?,
        ))
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

#[tonic::async_trait]
impl TaskService for TaskApi {
    async fn submit_task(
        &self,
        req: Request<SubmitTaskRequest>,
    ) -> Result<Response<SubmitTaskResponse>, Status> {
        Ok(Response::new(self.0.submit_task(req.into_inner()).await?))
    }

    async fn get_task(
        &self,
        req: Request<GetTaskRequest>,
    ) -> Result<Response<GetTaskResponse>, Status> {
        Ok(Response::new(self.0.get_task(req.into_inner()).await?))
    }

    async fn cancel_task(
        &self,
        req: Request<CancelTaskRequest>,
    ) -> Result<Response<CancelTaskResponse>, Status> {
        Ok(Response::new(self.0.cancel_task(req.into_inner()).await?))
    }

    type WatchTasksStream = FeedStream<WatchTasksResponse>;

    async fn watch_tasks(
        &self,
        req: Request<WatchTasksRequest>,
    ) -> Result<Response<Self::WatchTasksStream>, Status> {
        Ok(Response::new(self.0.watch_tasks(req.into_inner())?))
    }

    type ScrapeTaskStream = FeedStream<ScrapeTaskResponse>;

    async fn scrape_task(
        &self,
        req: Request<Streaming<ScrapeTaskRequest>>,
    ) -> Result<Response<Self::ScrapeTaskStream>, Status> {
        Ok(Response::new(
            self.0.clone().scrape_task(req.into_inner()).await?,
        ))
    }
}
