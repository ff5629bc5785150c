//! Typed Rust client for `herald.v1`: connect with a service token, build emits,
//! follow topics.
//!
//! ```no_run
//! # async fn demo() -> Result<(), herald_client::ClientError> {
//! let mut herald = herald_client::Client::connect("http://127.0.0.1:50051", "herald-dev-service-token").await?;
//! let sent = herald
//!     .emit("new_message")
//!     .to("user:alice")
//!     .except("conn:abc")
//!     .json(&serde_json::json!({ "text": "hi" }))?
//!     .send()
//!     .await?;
//! println!("reached {} connections", sent.connections);
//! # Ok(()) }
//! ```

mod emit;
mod subscription;

use futures::{Stream, StreamExt};
use herald_proto::v1::herald_service_client::HeraldServiceClient;
use herald_proto::v1::task_service_client::TaskServiceClient;
use herald_proto::v1::{
    DisconnectRequest, DisconnectResponse, Event, PresenceRequest, PresenceResponse, StatsRequest,
    StatsResponse, SubscribeRequest, subscribe_response,
};
use tonic::metadata::MetadataValue;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};

pub use emit::EmitBuilder;
pub use herald_proto::v1 as proto;
pub use subscription::{Item, Subscription};

/// What a client call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The cause is the error's `source` (said once by reporters that walk the chain).
    #[error("cannot connect to {url}")]
    Connect {
        url: String,
        source: tonic::transport::Error,
    },
    #[error("the service token is not a valid header value")]
    BadToken,
    #[error("argument is not JSON-serializable: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{} ({:?})", .0.message(), .0.code())]
    Status(#[from] tonic::Status),
}

/// Adds the service credential to every call.
#[derive(Clone)]
pub struct Bearer(MetadataValue<tonic::metadata::Ascii>);

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        req.metadata_mut().insert("authorization", self.0.clone());
        Ok(req)
    }
}

/// A connection to a Herald core.
#[derive(Clone)]
pub struct Client {
    inner: HeraldServiceClient<InterceptedService<Channel, Bearer>>,
    /// Boxed: most users only emit, and the client stays small to hold.
    tasks: Box<TaskServiceClient<InterceptedService<Channel, Bearer>>>,
}

/// `host:port` -> `http://host:port`; URLs with a scheme are kept.
pub fn with_scheme(url: &str) -> String {
    if url.contains("://") {
        url.to_owned()
    } else {
        format!("http://{url}")
    }
}

impl Client {
    /// Connects to `url` (e.g. `http://127.0.0.1:50051`; `127.0.0.1:50051` means `http://`) with
    /// a service token.
    pub async fn connect(url: &str, service_token: &str) -> Result<Self, ClientError> {
        Self::connect_with(url, service_token, None).await
    }

    /// [`Client::connect`] over TLS when `tls` is given (an `https://` URL; the CA that signed the
    /// core's certificate, and a client identity for a core that requires mTLS).
    pub async fn connect_with(
        url: &str,
        service_token: &str,
        tls: Option<ClientTlsConfig>,
    ) -> Result<Self, ClientError> {
        let url = with_scheme(url);
        let url = url.as_str();
        let connect_err = |source| ClientError::Connect {
            url: url.to_owned(),
            source,
        };
        let mut endpoint = Endpoint::from_shared(url.to_owned()).map_err(connect_err)?;
        if let Some(tls) = tls {
            endpoint = endpoint.tls_config(tls).map_err(connect_err)?;
        }
        let channel = endpoint.connect().await.map_err(connect_err)?;
        Self::with_channel(channel, service_token)
    }

    /// Uses an existing channel.
    pub fn with_channel(channel: Channel, service_token: &str) -> Result<Self, ClientError> {
        let value: MetadataValue<_> = format!("Bearer {service_token}")
            .parse()
            .map_err(|_| ClientError::BadToken)?;
        Ok(Self {
            tasks: Box::new(TaskServiceClient::with_interceptor(
                channel.clone(),
                Bearer(value.clone()),
            )),
            inner: HeraldServiceClient::with_interceptor(channel, Bearer(value)),
        })
    }

    /// `HeraldService.Stats`: connections, users and rooms per namespace, edges, subscribers.
    pub async fn stats(&mut self) -> Result<StatsResponse, ClientError> {
        Ok(self.inner.stats(StatsRequest {}).await?.into_inner())
    }

    /// `HeraldService.Presence`: who is in a room, or these users' status.
    pub async fn presence(
        &mut self,
        req: PresenceRequest,
    ) -> Result<PresenceResponse, ClientError> {
        Ok(self.inner.presence(req).await?.into_inner())
    }

    /// `HeraldService.Disconnect`: kicks a connection or every connection of a user.
    pub async fn disconnect(
        &mut self,
        req: DisconnectRequest,
    ) -> Result<DisconnectResponse, ClientError> {
        Ok(self.inner.disconnect(req).await?.into_inner())
    }

    /// `TaskService` with the same credential (submit, get, cancel, watch).
    pub fn tasks(&self) -> TaskServiceClient<InterceptedService<Channel, Bearer>> {
        (*self.tasks).clone()
    }

    /// Starts an emit of `event`; add targets and arguments, then `send`.
    pub fn emit(&mut self, event: &str) -> EmitBuilder<'_> {
        EmitBuilder::new(&mut self.inner, event)
    }

    /// Follows topics from `since` positions (empty: from now), filling gaps from
    /// History and resuming from its positions when the stream breaks.
    pub fn follow(
        &self,
        namespace: &str,
        topics: &[&str],
        since: Vec<herald_proto::v1::Position>,
    ) -> Subscription {
        Subscription::new(self.inner.clone(), namespace, topics, since)
    }

    /// Follows topics of a namespace; yields events until the server ends the stream.
    pub async fn subscribe(
        &mut self,
        namespace: &str,
        topics: &[&str],
    ) -> Result<impl Stream<Item = Result<Event, ClientError>> + use<>, ClientError> {
        let req = SubscribeRequest {
            namespace: namespace.to_owned(),
            topics: topics.iter().map(|t| (*t).to_owned()).collect(),
            since: Vec::new(),
        };
        let stream = self.inner.subscribe(req).await?.into_inner();
        Ok(stream.filter_map(|item| async move {
            match item {
                Ok(r) => match r.item {
                    Some(subscribe_response::Item::Event(e)) => Some(Ok(e)),
                    _ => None,
                },
                Err(s) => Some(Err(ClientError::Status(s))),
            }
        }))
    }
}
