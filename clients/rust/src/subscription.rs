//! A subscription that keeps its place: it tracks each topic's position, fills
//! a gap in offsets from `History` by itself, and resumes from its positions
//! when the stream breaks.

use std::collections::{HashMap, VecDeque};

use herald_proto::v1::herald_service_client::HeraldServiceClient;
use herald_proto::v1::{Event, HistoryRequest, Position, SubscribeRequest, subscribe_response};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::{Bearer, ClientError};

/// How often a broken stream is resumed before the error is returned.
const MAX_RESUMES: u32 = 5;

/// What a subscription yields.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Event(Event),
    /// Events of this topic may be missing (epoch changed or outside the window): refetch it.
    NotRecovered {
        topic: String,
        reason: String,
    },
}

/// A resumable, gap-filling subscription; see [`crate::Client::follow`].
pub struct Subscription {
    client: HeraldServiceClient<InterceptedService<Channel, Bearer>>,
    namespace: String,
    topics: Vec<String>,
    positions: HashMap<String, Position>,
    stream: Option<tonic::Streaming<herald_proto::v1::SubscribeResponse>>,
    ready: VecDeque<Item>,
    resumes: u32,
    resumed_total: u64,
}

impl Subscription {
    pub(crate) fn new(
        client: HeraldServiceClient<InterceptedService<Channel, Bearer>>,
        namespace: &str,
        topics: &[&str],
        since: Vec<Position>,
    ) -> Self {
        Self {
            client,
            namespace: namespace.to_owned(),
            topics: topics.iter().map(|t| (*t).to_owned()).collect(),
            positions: since.into_iter().map(|p| (p.topic.clone(), p)).collect(),
            stream: None,
            ready: VecDeque::new(),
            resumes: 0,
            resumed_total: 0,
        }
    }

    /// How many times the stream broke and was resumed from the tracked positions.
    pub fn resumed(&self) -> u64 {
        self.resumed_total
    }

    /// Where each followed topic stands (to resume later with `since`).
    pub fn positions(&self) -> Vec<Position> {
        self.positions.values().cloned().collect()
    }

    async fn open(&mut self) -> Result<(), ClientError> {
        let req = SubscribeRequest {
            namespace: self.namespace.clone(),
            topics: self.topics.clone(),
            since: self.positions.values().cloned().collect(),
        };
        self.stream = Some(self.client.subscribe(req).await?.into_inner());
        Ok(())
    }

    /// The next event (or NotRecovered), in order, without gaps or duplicates.
    pub async fn next(&mut self) -> Option<Result<Item, ClientError>> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Some(Ok(item));
            }
            if self.stream.is_none()
                && let Err(e) = self.open().await
            {
                return Some(Err(e));
            }
            let Some(stream) = self.stream.as_mut() else {
                continue;
            };
            match stream.message().await {
                Ok(Some(r)) => match r.item {
                    Some(subscribe_response::Item::Event(e)) => {
                        self.resumes = 0;
                        if let Err(err) = self.accept(e).await {
                            return Some(Err(err));
                        }
                    }
                    Some(subscribe_response::Item::NotRecovered(n)) => {
                        if let Some(cur) = n.current {
                            self.positions.insert(n.topic.clone(), cur);
                        }
                        self.ready.push_back(Item::NotRecovered {
                            topic: n.topic,
                            reason: n.reason,
                        });
                    }
                    _ => {}
                },
                Ok(None) => return None,
                Err(status) => {
                    self.stream = None;
                    self.resumes += 1;
                    self.resumed_total += 1;
                    if self.resumes > MAX_RESUMES {
                        return Some(Err(ClientError::Status(status)));
                    }
                }
            }
        }
    }

    /// Queues `e` after any events missing before it; drops what was already seen.
    async fn accept(&mut self, e: Event) -> Result<(), ClientError> {
        let mut fresh = e.positions.is_empty();
        for p in &e.positions {
            if !self.topics.contains(&p.topic) {
                continue;
            }
            match self.positions.get(&p.topic).cloned() {
                Some(last) if last.epoch == p.epoch && p.offset <= last.offset => {}
                Some(last) if last.epoch == p.epoch && p.offset > last.offset + 1 => {
                    self.fill(&last, p.offset).await?;
                    fresh = true;
                }
                Some(last) if last.epoch != p.epoch && !last.epoch.is_empty() => {
                    self.ready.push_back(Item::NotRecovered {
                        topic: p.topic.clone(),
                        reason: "epoch changed".into(),
                    });
                    fresh = true;
                }
                _ => fresh = true,
            }
            self.positions.insert(p.topic.clone(), p.clone());
        }
        if fresh || !e.positions.iter().any(|p| self.topics.contains(&p.topic)) {
            self.ready.push_back(Item::Event(e));
        }
        Ok(())
    }

    /// Fetches the events of `last.topic` between `last` and `upto` from History.
    async fn fill(&mut self, last: &Position, upto: u64) -> Result<(), ClientError> {
        let req = HistoryRequest {
            namespace: self.namespace.clone(),
            topic: last.topic.clone(),
            since: Some(last.clone()),
            limit: u32::try_from(upto - last.offset - 1)
                .unwrap_or(1000)
                .min(1000),
            ..Default::default()
        };
        let page = self.client.history(req).await?.into_inner();
        if !page.not_recovered.is_empty() {
            self.ready.push_back(Item::NotRecovered {
                topic: last.topic.clone(),
                reason: page.not_recovered,
            });
        }
        for ev in page.events {
            let inside = ev
                .positions
                .iter()
                .any(|p| p.topic == last.topic && p.offset > last.offset && p.offset < upto);
            if inside {
                self.ready.push_back(Item::Event(ev));
            }
        }
        Ok(())
    }
}
