//! `Link`: one bidirectional stream per edge. The edge reports connections,
//! room changes, client acks, forwarded client events and relays; each goes to
//! the node, whose answer (or error) goes back with the request's id, along
//! with the deliveries.

use std::sync::Arc;

use herald_proto::v1::{
    Applied, LinkRequest, LinkResponse, LinkWelcome, link_request, link_response,
};

use super::Api;
use crate::feed::{Feed, FeedStream, feed};
use crate::hub::{Link, LinkId};
use crate::node::link::Outcome;

/// `herald.v1.EdgeService`.
#[derive(Clone)]
pub struct EdgeApi(pub Arc<Api>);

fn done() -> Outcome {
    Ok(Applied::default())
}

fn applied(request_id: u64, outcome: Outcome) -> LinkResponse {
    let a = match outcome {
        Ok(a) => Applied { request_id, ..a },
        Err(error) => Applied {
            request_id,
            error,
            ..Default::default()
        },
    };
    LinkResponse {
        msg: Some(link_response::Msg::Applied(a)),
    }
}

impl Api {
    /// Serves one edge link: `inbound` is the edge's requests (a gRPC stream or
    /// an in-process queue), the returned feed its responses.
    pub fn link<S>(self: Arc<Self>, mut inbound: S) -> FeedStream<LinkResponse>
    where
        S: futures::Stream<Item = Result<LinkRequest, tonic::Status>> + Send + Unpin + 'static,
    {
        let id = self.hub.next_id();
        let (tx, rx) = feed(self.config.link_queue, &self.hub.cancel);
        self.hub.add_link(
            id,
            Link {
                feed: tx.clone(),
                name: String::from("unnamed edge"),
            },
        );
        let api = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = tx.closed() => break,
                    msg = futures::StreamExt::next(&mut inbound) => match msg.transpose() {
                        Ok(Some(m)) => api.clone().on_link_message(id, &tx, m).await,
                        Ok(None) => break,
                        Err(e) => {
                            tracing::debug!(link = id, error = %e, "edge link read failed");
                            break;
                        }
                    },
                }
            }
            api.link_gone(id);
        });
        let api = self.clone();
        rx.on_drop(move || api.link_gone(id))
    }

    async fn on_link_message(
        self: Arc<Self>,
        link: LinkId,
        tx: &Feed<LinkResponse>,
        m: LinkRequest,
    ) {
        use link_request::Msg;
        let outcome: Outcome = match m.msg {
            Some(Msg::Hello(h)) => {
                tracing::info!(link, edge = %h.edge_name, "edge linked");
                self.hub.rename_link(link, h.edge_name);
                let welcome = link_response::Msg::Welcome(LinkWelcome {
                    link_id: link.to_string(),
                    broker_epoch: self.broker.epoch(),
                });
                let _ = tx.send(LinkResponse { msg: Some(welcome) }).await;
                done()
            }
            Some(Msg::Opened(o)) => self.opened(link, o).await,
            Some(Msg::Closed(c)) => {
                self.closed(&c).await;
                done()
            }
            Some(Msg::Join(j)) => {
                self.join_conn(&j.connection_id, &j.room)
                    .await
                    .map(|seq| Applied {
                        floor_seq: seq.unwrap_or(0),
                        ..Default::default()
                    })
            }
            Some(Msg::Leave(l)) => self
                .leave_conn(&l.connection_id, &l.room)
                .await
                .map(|_| Applied::default()),
            Some(Msg::Ack(a)) => {
                self.route_ack(a.ack_ref, &a.connection_id, a.args).await;
                done()
            }
            Some(Msg::Relay(r)) => self.relay(link, r).await.map(|()| Applied::default()),
            Some(Msg::Lookup(l)) => self.lookup_session(&l).await.map(|session| Applied {
                session: Some(session),
                ..Default::default()
            }),
            Some(Msg::Forward(f)) => {
                // A handler may take its time: answer from a task bounded by the handler timeout.
                let api = self.clone();
                let tx = tx.clone();
                let request_id = m.request_id;
                tokio::spawn(async move {
                    let outcome = api.forward(f, request_id != 0).await;
                    if request_id != 0 {
                        let _ = tx.send(applied(request_id, outcome)).await;
                    }
                });
                return;
            }
            None => Err("empty link message".into()),
        };
        if let Err(e) = &outcome {
            tracing::debug!(link, error = %e, "link request refused");
        }
        if m.request_id != 0 {
            let _ = tx.send(applied(m.request_id, outcome)).await;
        }
    }
}
