//! `Subscribe`: a direct subscriber's feed of the events addressed to its
//! topics or patterns; from `since` positions it replays, then goes live, with
//! no gap, no duplicate and every topic's positions in order.

use std::collections::{HashMap, HashSet};
use std::pin::Pin;
use std::sync::Arc;

use futures::{Stream, StreamExt, stream};
use herald_proto::v1::{
    NotRecovered, SubscribeRequest, SubscribeResponse, Subscribed, subscribe_response,
};
use tonic::Status;

use super::{Api, validate};
use crate::CoreError;
use crate::feed::feed;

/// The response stream of `Subscribe`.
pub type SubscribeStream = Pin<Box<dyn Stream<Item = Result<SubscribeResponse, Status>> + Send>>;

fn item(i: subscribe_response::Item) -> Result<SubscribeResponse, Status> {
    Ok(SubscribeResponse { item: Some(i) })
}

impl Api {
    pub async fn subscribe(
        self: Arc<Self>,
        req: SubscribeRequest,
    ) -> Result<SubscribeStream, CoreError> {
        let ns = validate::namespace(&self.config, &req.namespace)?;
        if req.topics.is_empty() {
            return Err(CoreError::InvalidArgument(
                "topics: name at least one topic (user:ID, room:NAME, conn:ID, * or a pattern)"
                    .into(),
            ));
        }
        validate::subscription_topics(&req.topics)?;
        if let Some(p) = req
            .since
            .iter()
            .find(|p| !req.topics.contains(&p.topic) || p.topic.ends_with('*') && p.topic != "*")
        {
            return Err(CoreError::InvalidArgument(format!(
                "since: {:?} is not one of the subscribed topics (patterns have no position)",
                p.topic
            )));
        }
        let id = self.hub.next_id();
        let (tx, rx) = feed(self.config.subscriber_queue, &self.hub.cancel);
        // Live first, history second: an event appended in between arrives both
        // ways and its live copy is dropped below; none can fall between.
        let topics = req.topics;
        for (i, t) in topics.iter().enumerate() {
            if let Err(e) = self.broker.want(&ns, t).await {
                for t in &topics[..i] {
                    self.broker.unwant(&ns, t).await;
                }
                return Err(CoreError::BrokerUnavailable(e.to_string()));
            }
        }
        let keys = topics.iter().map(|t| (ns.clone(), t.clone())).collect();
        self.hub.add_subscriber(id, tx, keys);
        let api = self.clone();
        let sub_ns = ns.clone();
        let live = rx.on_drop(move || {
            api.hub.remove_subscriber(id);
            let ns = sub_ns;
            tokio::spawn(async move {
                for t in &topics {
                    api.broker.unwant(&ns, t).await;
                }
            });
        });
        let (replay, lost) = self
            .broker
            .replay_positions(&ns, &req.since)
            .await
            .map_err(|e| CoreError::BrokerUnavailable(e.to_string()))?;
        let replayed: HashSet<String> = replay.iter().map(|e| e.id.clone()).collect();
        // The newest position the replay delivers on each topic its events carry (also topics
        // only `*` or a pattern brings): a live event at or below one of them is older than what
        // the stream already gave on that topic.
        let mut newest: HashMap<(String, String), u64> = HashMap::new();
        for p in replay.iter().flat_map(|e| &e.positions) {
            let n = newest
                .entry((p.topic.clone(), p.epoch.clone()))
                .or_default();
            *n = (*n).max(p.offset);
        }
        let count = u32::try_from(replay.len()).unwrap_or(u32::MAX);
        let head = lost
            .into_iter()
            .map(|u| {
                item(subscribe_response::Item::NotRecovered(NotRecovered {
                    topic: u.topic,
                    reason: u.gap.reason().to_owned(),
                    current: Some(u.current),
                }))
            })
            .chain(
                replay
                    .into_iter()
                    .map(|e| item(subscribe_response::Item::Event((*e).clone()))),
            )
            .chain(std::iter::once(item(subscribe_response::Item::Subscribed(
                Subscribed {
                    subscription_id: id.to_string(),
                    replayed: count,
                },
            ))))
            .collect::<Vec<_>>();
        let live = live.filter(move |r| {
            let behind = |e: &herald_proto::v1::Event| {
                e.positions.iter().any(|p| {
                    newest
                        .get(&(p.topic.clone(), p.epoch.clone()))
                        .is_some_and(|n| p.offset <= *n)
                })
            };
            let dup = matches!(r, Ok(SubscribeResponse { item: Some(subscribe_response::Item::Event(e)) }) if replayed.contains(&e.id) || behind(e));
            futures::future::ready(!dup)
        });
        Ok(Box::pin(stream::iter(head).chain(live)))
    }
}
