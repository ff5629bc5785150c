//! Leases that outlived their holder: listing running attempts past their deadline, and when the next
//! one ends, so that any core can take them back (each with the fenced [`Store::release`]).

use crate::error::StoreError;
use crate::model::token_from_db;
use crate::sql;
use crate::store::Store;

/// A running attempt whose lease has ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiredLease {
    pub task_id: String,
    pub lease_token: u64,
}

impl Store {
    /// Up to `limit` running attempts whose lease deadline is at or before `before_ms`, earliest first.
    pub async fn expired_leases(
        &self,
        before_ms: i64,
        limit: u32,
    ) -> Result<Vec<ExpiredLease>, StoreError> {
        let rows: Vec<(String, i64)> = with_pool!(&self.backend, pool => {
            sqlx::query_as(sql::EXPIRED)
                .bind(before_ms)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
        });
        Ok(rows
            .into_iter()
            .map(|(task_id, token)| ExpiredLease {
                task_id,
                lease_token: token_from_db(token),
            })
            .collect())
    }

    /// The earliest lease deadline of a running task, if any runs.
    pub async fn next_lease_deadline(&self) -> Result<Option<i64>, StoreError> {
        with_pool!(&self.backend, pool => {
            let at: Option<i64> = sqlx::query_scalar(sql::NEXT_DEADLINE).fetch_one(pool).await?;
            Ok(at)
        })
    }
}
