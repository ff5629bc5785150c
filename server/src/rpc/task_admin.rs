//! `ListTasks`, `RetryTask`, `ListWorkers`: what an operator's console reads and does with tasks.

use herald_proto::v1::{
    ListTasksRequest, ListTasksResponse, ListWorkersRequest, ListWorkersResponse, RetryTaskRequest,
    RetryTaskResponse, TaskStatus,
};
use herald_store::TaskStatus as Stored;
use tokio::sync::oneshot;

use super::Api;
use crate::CoreError;
use crate::clock::now_ms;
use crate::tasks::{AdminCmd, Cmd, to_proto};

/// Tasks listed when the request names no limit, and the most it may ask for.
const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 500;

fn stored(status: TaskStatus) -> Option<Stored> {
    match status {
        TaskStatus::Unspecified => None,
        TaskStatus::Queued => Some(Stored::Queued),
        TaskStatus::Running => Some(Stored::Running),
        TaskStatus::Succeeded => Some(Stored::Succeeded),
        TaskStatus::Failed => Some(Stored::Failed),
        TaskStatus::Cancelled => Some(Stored::Cancelled),
        TaskStatus::Dead => Some(Stored::Dead),
    }
}

impl Api {
    pub async fn list_tasks(&self, req: ListTasksRequest) -> Result<ListTasksResponse, CoreError> {
        let tasks = self.tasks()?;
        let status = TaskStatus::try_from(req.status).map_err(|_| {
            CoreError::InvalidArgument(format!("status: unknown task status {}", req.status))
        })?;
        if req.limit > MAX_LIMIT {
            return Err(CoreError::InvalidArgument(format!(
                "limit: at most {MAX_LIMIT}"
            )));
        }
        let limit = if req.limit == 0 {
            DEFAULT_LIMIT
        } else {
            req.limit
        };
        let rows = tasks.store.list(stored(status), &req.queue, limit).await?;
        Ok(ListTasksResponse {
            tasks: rows.iter().map(to_proto).collect(),
        })
    }

    pub async fn retry_task(&self, req: RetryTaskRequest) -> Result<RetryTaskResponse, CoreError> {
        let tasks = self.tasks()?;
        if req.id.is_empty() {
            return Err(CoreError::InvalidArgument("id: required".into()));
        }
        let row = tasks.store.retry(&req.id, now_ms()).await?;
        let task = to_proto(&row);
        tasks
            .tell(Cmd::Admin(AdminCmd::Retried(Box::new(row))))
            .await;
        tasks.wake();
        Ok(RetryTaskResponse { task: Some(task) })
    }

    pub async fn list_workers(
        &self,
        _req: ListWorkersRequest,
    ) -> Result<ListWorkersResponse, CoreError> {
        let tasks = self.tasks()?;
        let (tx, rx) = oneshot::channel();
        tasks.tell(Cmd::Admin(AdminCmd::Workers(tx))).await;
        let workers = rx
            .await
            .map_err(|_| CoreError::Unavailable("the task engine stopped".into()))?;
        Ok(ListWorkersResponse { workers })
    }
}
