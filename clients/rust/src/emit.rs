//! The emit builder: targets, exclusions, arguments and options, then `send`.

use bytes::Bytes;
use herald_proto::v1::herald_service_client::HeraldServiceClient;
use herald_proto::v1::{Arg, DeliveryClass, EmitRequest, EmitResponse, arg};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::{Bearer, ClientError};

/// Builds one `Emit` call.
pub struct EmitBuilder<'a> {
    client: &'a mut HeraldServiceClient<InterceptedService<Channel, Bearer>>,
    req: EmitRequest,
}

impl<'a> EmitBuilder<'a> {
    pub(crate) fn new(
        client: &'a mut HeraldServiceClient<InterceptedService<Channel, Bearer>>,
        event: &str,
    ) -> Self {
        Self {
            client,
            req: EmitRequest {
                event: event.to_owned(),
                ..Default::default()
            },
        }
    }

    /// Socket.IO namespace (default "/").
    pub fn namespace(mut self, ns: &str) -> Self {
        self.req.namespace = ns.to_owned();
        self
    }

    /// Adds a target: `user:ID`, `room:NAME`, `conn:ID` or `*`.
    pub fn to(mut self, topic: &str) -> Self {
        self.req.targets.push(topic.to_owned());
        self
    }

    /// Skips connections in this topic.
    pub fn except(mut self, topic: &str) -> Self {
        self.req.except.push(topic.to_owned());
        self
    }

    /// Adds a JSON argument.
    pub fn json<T: serde::Serialize + ?Sized>(mut self, value: &T) -> Result<Self, ClientError> {
        let text = serde_json::to_string(value)?;
        self.req.args.push(Arg {
            value: Some(arg::Value::Json(text)),
        });
        Ok(self)
    }

    /// Adds an argument that is already JSON text (checked by the server).
    pub fn raw_json(mut self, text: impl Into<String>) -> Self {
        self.req.args.push(Arg {
            value: Some(arg::Value::Json(text.into())),
        });
        self
    }

    /// Adds a binary argument.
    pub fn binary(mut self, bytes: impl Into<Bytes>) -> Self {
        self.req.args.push(Arg {
            value: Some(arg::Value::Binary(bytes.into())),
        });
        self
    }

    /// Never stored, at most once (typing indicators).
    pub fn volatile(mut self) -> Self {
        self.req.delivery = DeliveryClass::Volatile.into();
        self
    }

    /// Stored and replayable even for targets whose default is volatile (`conn:`, `*`).
    pub fn recoverable(mut self) -> Self {
        self.req.delivery = DeliveryClass::Recoverable.into();
        self
    }

    /// Waits up to `ms` for each receiving connection's ack.
    pub fn ack_timeout_ms(mut self, ms: u32) -> Self {
        self.req.ack_timeout_ms = ms;
        self
    }

    /// The same key within the server's window returns the first response.
    pub fn idempotency_key(mut self, key: &str) -> Self {
        self.req.idempotency_key = key.to_owned();
        self
    }

    pub async fn send(self) -> Result<EmitResponse, ClientError> {
        Ok(self.client.emit(self.req).await?.into_inner())
    }
}
