//! Turns result rows of either backend into the model types.

use sqlx::{ColumnIndex, Decode, Row, Type};

use crate::error::StoreError;
use crate::model::{AttemptOutcome, AttemptRow, DeadLetterRow, TaskRow, TaskStatus, token_from_db};

/// A row from which text and (nullable) integers can be read by column name.
pub(crate) trait DbRow<'r>: Row {
    fn text(&'r self, col: &'static str) -> Result<String, sqlx::Error>;
    fn int(&'r self, col: &'static str) -> Result<i64, sqlx::Error>;
    fn opt_int(&'r self, col: &'static str) -> Result<Option<i64>, sqlx::Error>;
}

impl<'r, R> DbRow<'r> for R
where
    R: Row,
    &'static str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    fn text(&'r self, col: &'static str) -> Result<String, sqlx::Error> {
        self.try_get(col)
    }
    fn int(&'r self, col: &'static str) -> Result<i64, sqlx::Error> {
        self.try_get(col)
    }
    fn opt_int(&'r self, col: &'static str) -> Result<Option<i64>, sqlx::Error> {
        self.try_get(col)
    }
}

fn small(id: &str, field: &'static str, v: i64) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt {
        id: id.to_owned(),
        field,
        value: v.to_string(),
    })
}

pub(crate) fn task<'r, R: DbRow<'r>>(row: &'r R) -> Result<TaskRow, StoreError> {
    let id = row.text("id")?;
    let status_text = row.text("status")?;
    let status = TaskStatus::parse(&status_text).ok_or_else(|| StoreError::Corrupt {
        id: id.clone(),
        field: "status",
        value: status_text,
    })?;
    Ok(TaskRow {
        queue: row.text("queue")?,
        payload_json: row.text("payload_json")?,
        status,
        attempt: small(&id, "attempt", row.int("attempt")?)?,
        max_attempts: small(&id, "max_attempts", row.int("max_attempts")?)?,
        attempt_timeout_ms: small(&id, "attempt_timeout_ms", row.int("attempt_timeout_ms")?)?,
        result_json: row.text("result_json")?,
        last_error: row.text("last_error")?,
        idempotency_key: row.text("idempotency_key")?,
        notify_json: row.text("notify_json")?,
        worker: row.text("worker")?,
        lease_token: token_from_db(row.int("lease_token")?),
        lease_deadline_ms: row.int("lease_deadline_ms")?,
        run_at_ms: row.int("run_at_ms")?,
        created_ms: row.int("created_ms")?,
        updated_ms: row.int("updated_ms")?,
        progress_json: row.text("progress_json")?,
        id,
    })
}

pub(crate) fn attempt<'r, R: DbRow<'r>>(row: &'r R) -> Result<AttemptRow, StoreError> {
    let task_id = row.text("task_id")?;
    let outcome_text = row.text("outcome")?;
    let outcome = if outcome_text.is_empty() {
        None
    } else {
        Some(
            AttemptOutcome::parse(&outcome_text).ok_or_else(|| StoreError::Corrupt {
                id: task_id.clone(),
                field: "outcome",
                value: outcome_text,
            })?,
        )
    };
    Ok(AttemptRow {
        attempt: small(&task_id, "attempt", row.int("attempt")?)?,
        worker: row.text("worker")?,
        lease_token: token_from_db(row.int("lease_token")?),
        lease_deadline_ms: row.int("lease_deadline_ms")?,
        started_ms: row.int("started_ms")?,
        ended_ms: row.opt_int("ended_ms")?,
        outcome,
        error: row.text("error")?,
        task_id,
    })
}

pub(crate) fn dead_letter<'r, R: DbRow<'r>>(row: &'r R) -> Result<DeadLetterRow, StoreError> {
    let task_id = row.text("task_id")?;
    Ok(DeadLetterRow {
        queue: row.text("queue")?,
        payload_json: row.text("payload_json")?,
        attempts: small(&task_id, "attempts", row.int("attempts")?)?,
        last_error: row.text("last_error")?,
        dead_ms: row.int("dead_ms")?,
        task_id,
    })
}
