//! `herald tasks list|get|cancel|retry`: look at, cancel and retry durable tasks from the command
//! line.

use anyhow::Context;
use herald_client::proto::{
    CancelTaskRequest, GetTaskRequest, ListTasksRequest, RetryTaskRequest, Task, TaskStatus,
};
use herald_server::config::Config;
use serde_json::{Value, json};

use crate::cli::admin::{CoreConn, print};

#[derive(clap::Subcommand)]
pub enum TasksCommand {
    /// List tasks, newest first.
    List {
        /// Only tasks in this status (queued, running, succeeded, failed, cancelled, dead).
        #[arg(long)]
        status: Option<String>,
        /// Only tasks of this queue.
        #[arg(long, default_value = "")]
        queue: String,
        /// At most this many (the core caps it at 500).
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[command(flatten)]
        conn: CoreConn,
    },
    /// Queue a failed, dead or cancelled task again and print it.
    Retry {
        id: String,
        #[command(flatten)]
        conn: CoreConn,
    },
    /// Print one task.
    Get {
        id: String,
        #[command(flatten)]
        conn: CoreConn,
    },
    /// Cancel a queued or running task (its worker is told) and print it.
    Cancel {
        id: String,
        /// Recorded as the task's last error.
        #[arg(long, default_value = "cancelled by an operator")]
        reason: String,
        #[command(flatten)]
        conn: CoreConn,
    },
}

/// A status as the CLI names it (`dead`), as the proto does.
fn parse_status(s: &str) -> anyhow::Result<TaskStatus> {
    TaskStatus::from_str_name(&format!("TASK_STATUS_{}", s.to_ascii_uppercase()))
        .filter(|s| *s != TaskStatus::Unspecified)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "--status {s:?}: expected queued, running, succeeded, failed, cancelled or dead"
            )
        })
}

pub async fn run(config: &Config, cmd: TasksCommand) -> anyhow::Result<()> {
    let (task, conn) = match cmd {
        TasksCommand::List {
            status,
            queue,
            limit,
            conn,
        } => {
            let status = status.as_deref().map(parse_status).transpose()?;
            let mut tasks = conn.connect(config).await?.tasks();
            let r = tasks
                .list_tasks(ListTasksRequest {
                    status: status.unwrap_or(TaskStatus::Unspecified).into(),
                    queue,
                    limit,
                })
                .await;
            let list = r
                .map_err(herald_client::ClientError::from)
                .with_context(|| format!("ListTasks at {}", conn.url(config)))?
                .into_inner()
                .tasks;
            let json = Value::Array(list.iter().map(task_json).collect());
            let text: String = if list.is_empty() {
                "no tasks\n".to_owned()
            } else {
                list.iter().map(task_text).collect()
            };
            return print(conn.json, &json, &text);
        }
        TasksCommand::Retry { id, conn } => {
            let mut tasks = conn.connect(config).await?.tasks();
            let r = tasks.retry_task(RetryTaskRequest { id }).await;
            let r = r
                .map_err(herald_client::ClientError::from)
                .with_context(|| format!("RetryTask at {}", conn.url(config)))?;
            (r.into_inner().task, conn)
        }
        TasksCommand::Get { id, conn } => {
            let mut tasks = conn.connect(config).await?.tasks();
            let r = tasks.get_task(GetTaskRequest { id }).await;
            let r = r
                .map_err(herald_client::ClientError::from)
                .with_context(|| format!("GetTask at {}", conn.url(config)))?;
            (r.into_inner().task, conn)
        }
        TasksCommand::Cancel { id, reason, conn } => {
            let mut tasks = conn.connect(config).await?.tasks();
            let r = tasks.cancel_task(CancelTaskRequest { id, reason }).await;
            let r = r
                .map_err(herald_client::ClientError::from)
                .with_context(|| format!("CancelTask at {}", conn.url(config)))?;
            (r.into_inner().task, conn)
        }
    };
    let task = task.ok_or_else(|| anyhow::anyhow!("the core answered without a task"))?;
    print(conn.json, &task_json(&task), &task_text(&task))
}

fn status(t: &Task) -> String {
    TaskStatus::try_from(t.status)
        .map(|s| {
            s.as_str_name()
                .trim_start_matches("TASK_STATUS_")
                .to_ascii_lowercase()
        })
        .unwrap_or_else(|_| format!("unknown ({})", t.status))
}

/// A JSON text field as a value (null when empty, the text when not JSON).
fn json_field(s: &str) -> Value {
    if s.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.to_owned()))
    }
}

fn task_json(t: &Task) -> Value {
    json!({
        "id": t.id,
        "queue": t.queue,
        "status": status(t),
        "attempt": t.attempt,
        "max_attempts": t.max_attempts,
        "attempt_timeout_ms": t.attempt_timeout_ms,
        "payload": json_field(&t.payload_json),
        "progress": json_field(&t.progress_json),
        "result": json_field(&t.result_json),
        "last_error": t.last_error,
        "idempotency_key": t.idempotency_key,
        "worker": t.worker,
        "created_ms": t.created_ms,
        "updated_ms": t.updated_ms,
    })
}

fn task_text(t: &Task) -> String {
    let mut out = format!(
        "task {}  queue {}  status {}  attempt {}/{}\n",
        t.id,
        t.queue,
        status(t),
        t.attempt,
        t.max_attempts
    );
    for (name, v) in [
        ("payload", &t.payload_json),
        ("progress", &t.progress_json),
        ("result", &t.result_json),
        ("last_error", &t.last_error),
        ("worker", &t.worker),
    ] {
        if !v.is_empty() {
            out.push_str(&format!("  {name}: {v}\n"));
        }
    }
    out
}
