//! `GetTask`, `CancelTask`, `WatchTasks`: backends follow tasks (`SubmitTask` is the node's, shared
//! with an Emit's `push_if_offline`).

use herald_proto::v1::{
    CancelTaskRequest, CancelTaskResponse, GetTaskRequest, GetTaskResponse, WatchTasksRequest,
    WatchTasksResponse,
};

use super::Api;
use crate::CoreError;
use crate::clock::now_ms;
use crate::feed::{FeedStream, feed};
use crate::tasks::{Cmd, to_proto};

impl Api {
    pub async fn get_task(&self, req: GetTaskRequest) -> Result<GetTaskResponse, CoreError> {
        let row = self
            .tasks()?
            .store
            .get(&req.id)
            .await?
            .ok_or_else(|| CoreError::NotFound(format!("no task {:?}", req.id)))?;
        Ok(GetTaskResponse {
            task: Some(to_proto(&row)),
        })
    }

    pub async fn cancel_task(
        &self,
        req: CancelTaskRequest,
    ) -> Result<CancelTaskResponse, CoreError> {
        let tasks = self.tasks()?;
        let reason = if req.reason.is_empty() {
            "cancelled"
        } else {
            &req.reason
        };
        let row = tasks.store.cancel(&req.id, reason, now_ms()).await?;
        let task = to_proto(&row);
        tasks.tell(Cmd::Cancelled { task: row }).await;
        Ok(CancelTaskResponse { task: Some(task) })
    }

    pub fn watch_tasks(
        &self,
        req: WatchTasksRequest,
    ) -> Result<FeedStream<WatchTasksResponse>, CoreError> {
        let tasks = self.tasks()?;
        if req.ids.is_empty() && req.queue.is_empty() {
            return Err(CoreError::InvalidArgument(
                "name task ids or a queue to watch".into(),
            ));
        }
        let (tx, rx) = feed(self.config.subscriber_queue, &self.hub.cancel);
        tasks.watchers.add(req.ids, req.queue, tx);
        Ok(rx)
    }
}
