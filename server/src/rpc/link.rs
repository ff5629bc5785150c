//! `Link`: one bidirectional stream per edge. The edge reports connections,
//! room changes and client acks; the core answers and sends deliveries.

use std::sync::Arc;

use herald_proto::v1::{
    Applied, LinkRequest, LinkResponse, LinkWelcome, link_request, link_response,
};
use tonic::Streaming;

use super::Api;
use crate::feed::{Feed, FeedStream, feed};
use crate::hub::{Link, LinkId};

/// `herald.v1.EdgeService`.
#[derive(Clone)]
pub struct EdgeApi(pub Arc<Api>);

impl Api {
    pub fn link(self: Arc<Self>, mut inbound: Streaming<LinkRequest>) -> FeedStream<LinkResponse> {
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
                    msg = inbound.message() => match msg {
                        Ok(Some(m)) => api.on_link_message(id, &tx, m).await,
                        Ok(None) => break,
                        Err(e) => {
                            tracing::debug!(link = id, error = %e, "edge link read failed");
                            break;
                        }
                    },
                }
            }
            api.hub.drop_link(id);
        });
        let hub = self.hub.clone();
        rx.on_drop(move || hub.drop_link(id))
    }

    async fn on_link_message(&self, link: LinkId, tx: &Feed<LinkResponse>, m: LinkRequest) {
        use link_request::Msg;
        let result: Result<(), String> = match m.msg {
            Some(Msg::Hello(h)) => {
                tracing::info!(link, edge = %h.edge_name, "edge linked");
                self.hub.rename_link(link, h.edge_name);
                let welcome = link_response::Msg::Welcome(LinkWelcome {
                    link_id: link.to_string(),
                });
                let _ = tx.send(LinkResponse { msg: Some(welcome) }).await;
                Ok(())
            }
            Some(Msg::Opened(o)) => {
                let user = (!o.user_id.is_empty()).then_some(o.user_id.as_str());
                let ns = if o.namespace.is_empty() {
                    "/"
                } else {
                    &o.namespace
                };
                self.hub
                    .index
                    .write()
                    .insert(&o.connection_id, ns, user, link)
                    .map_err(|e| e.to_string())
            }
            Some(Msg::Closed(c)) => {
                let removed = self.hub.index.write().remove(&c.connection_id);
                if removed.is_some() {
                    self.hub.ack_conn_gone(&c.connection_id);
                }
                Ok(())
            }
            Some(Msg::Join(j)) => self
                .hub
                .index
                .write()
                .join(&j.connection_id, &j.room)
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Some(Msg::Leave(l)) => self
                .hub
                .index
                .write()
                .leave(&l.connection_id, &l.room)
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Some(Msg::Ack(a)) => {
                self.hub.client_ack(a.ack_ref, &a.connection_id, a.args);
                Ok(())
            }
            None => Err("empty link message".into()),
        };
        if let Err(e) = &result {
            tracing::debug!(link, error = %e, "link request refused");
        }
        if m.request_id != 0 {
            let applied = link_response::Msg::Applied(Applied {
                request_id: m.request_id,
                error: result.err().unwrap_or_default(),
            });
            let _ = tx.send(LinkResponse { msg: Some(applied) }).await;
        }
    }
}
