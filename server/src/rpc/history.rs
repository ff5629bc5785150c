//! `History`: a topic's recoverable events since a position or a time, bounded.

use herald_proto::v1::{HistoryRequest, HistoryResponse};

use super::{Api, validate};
use crate::CoreError;
use crate::broker::HistoryQuery;

const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;

impl Api {
    pub async fn history(&self, r: HistoryRequest) -> Result<HistoryResponse, CoreError> {
        let ns = validate::namespace(&self.config, &r.namespace)?;
        validate::topics(std::slice::from_ref(&r.topic), "topic")?;
        if let Some(p) = &r.since
            && !p.topic.is_empty()
            && p.topic != r.topic
        {
            return Err(CoreError::InvalidArgument(format!(
                "since.topic {:?} is not the topic asked for ({:?})",
                p.topic, r.topic
            )));
        }
        if r.limit > MAX_LIMIT {
            return Err(CoreError::InvalidArgument(format!(
                "limit: at most {MAX_LIMIT}"
            )));
        }
        let q = HistoryQuery {
            since: r.since,
            since_ms: r.since_ms,
            limit: usize::try_from(if r.limit == 0 { DEFAULT_LIMIT } else { r.limit })
                .unwrap_or(100),
            reverse: r.reverse,
        };
        let page = self
            .broker
            .history(&ns, &r.topic, q)
            .await
            .map_err(|e| CoreError::BrokerUnavailable(e.to_string()))?;
        Ok(HistoryResponse {
            events: page.events.iter().map(|e| (**e).clone()).collect(),
            latest: Some(page.latest),
            truncated: page.truncated,
            not_recovered: page.gap.map(|g| g.reason().to_owned()).unwrap_or_default(),
        })
    }
}
