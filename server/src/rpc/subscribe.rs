//! `Subscribe`: a direct subscriber's feed of the events addressed to its topics.

use herald_proto::v1::{SubscribeRequest, SubscribeResponse, Subscribed, subscribe_response};

use super::{Api, validate};
use crate::CoreError;
use crate::feed::{FeedStream, feed};

impl Api {
    pub async fn subscribe(
        self: std::sync::Arc<Self>,
        req: SubscribeRequest,
    ) -> Result<FeedStream<SubscribeResponse>, CoreError> {
        let ns = validate::namespace(&self.config, &req.namespace)?;
        if req.topics.is_empty() {
            return Err(CoreError::InvalidArgument(
                "topics: name at least one topic (user:ID, room:NAME, conn:ID or *)".into(),
            ));
        }
        validate::topics(&req.topics, "topics")?;
        let id = self.hub.next_id();
        let (tx, rx) = feed(self.config.subscriber_queue, &self.hub.cancel);
        tx.try_send(SubscribeResponse {
            item: Some(subscribe_response::Item::Subscribed(Subscribed {
                subscription_id: id.to_string(),
            })),
        })
        .map_err(|_| CoreError::ShuttingDown)?;
        let keys = req.topics.into_iter().map(|t| (ns.clone(), t)).collect();
        self.hub.add_subscriber(id, tx, keys);
        let hub = self.hub.clone();
        Ok(rx.on_drop(move || hub.remove_subscriber(id)))
    }
}
