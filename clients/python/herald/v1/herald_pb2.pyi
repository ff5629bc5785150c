from herald.v1 import event_pb2 as _event_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EmitRequest(_message.Message):
    __slots__ = ("namespace", "targets", "event", "args", "delivery", "ack_timeout_ms", "idempotency_key", "push_if_offline")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    EXCEPT_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_FIELD_NUMBER: _ClassVar[int]
    ACK_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    PUSH_IF_OFFLINE_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    targets: _containers.RepeatedScalarFieldContainer[str]
    event: str
    args: _containers.RepeatedCompositeFieldContainer[_event_pb2.Arg]
    delivery: _event_pb2.DeliveryClass
    ack_timeout_ms: int
    idempotency_key: str
    push_if_offline: PushIfOffline
    def __init__(self, namespace: _Optional[str] = ..., targets: _Optional[_Iterable[str]] = ..., event: _Optional[str] = ..., args: _Optional[_Iterable[_Union[_event_pb2.Arg, _Mapping]]] = ..., delivery: _Optional[_Union[_event_pb2.DeliveryClass, str]] = ..., ack_timeout_ms: _Optional[int] = ..., idempotency_key: _Optional[str] = ..., push_if_offline: _Optional[_Union[PushIfOffline, _Mapping]] = ..., **kwargs) -> None: ...

class Ack(_message.Message):
    __slots__ = ("connection_id", "user_id", "acked", "args", "error")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ACKED_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    user_id: str
    acked: bool
    args: _containers.RepeatedCompositeFieldContainer[_event_pb2.Arg]
    error: str
    def __init__(self, connection_id: _Optional[str] = ..., user_id: _Optional[str] = ..., acked: bool = ..., args: _Optional[_Iterable[_Union[_event_pb2.Arg, _Mapping]]] = ..., error: _Optional[str] = ...) -> None: ...

class EmitResponse(_message.Message):
    __slots__ = ("event_id", "positions", "connections", "offline_users", "acks")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    POSITIONS_FIELD_NUMBER: _ClassVar[int]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    OFFLINE_USERS_FIELD_NUMBER: _ClassVar[int]
    ACKS_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    positions: _containers.RepeatedCompositeFieldContainer[_event_pb2.Position]
    connections: int
    offline_users: _containers.RepeatedScalarFieldContainer[str]
    acks: _containers.RepeatedCompositeFieldContainer[Ack]
    def __init__(self, event_id: _Optional[str] = ..., positions: _Optional[_Iterable[_Union[_event_pb2.Position, _Mapping]]] = ..., connections: _Optional[int] = ..., offline_users: _Optional[_Iterable[str]] = ..., acks: _Optional[_Iterable[_Union[Ack, _Mapping]]] = ...) -> None: ...

class SubscribeRequest(_message.Message):
    __slots__ = ("namespace", "topics", "since")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    TOPICS_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    topics: _containers.RepeatedScalarFieldContainer[str]
    since: _containers.RepeatedCompositeFieldContainer[_event_pb2.Position]
    def __init__(self, namespace: _Optional[str] = ..., topics: _Optional[_Iterable[str]] = ..., since: _Optional[_Iterable[_Union[_event_pb2.Position, _Mapping]]] = ...) -> None: ...

class SubscribeResponse(_message.Message):
    __slots__ = ("event", "subscribed", "not_recovered")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIBED_FIELD_NUMBER: _ClassVar[int]
    NOT_RECOVERED_FIELD_NUMBER: _ClassVar[int]
    event: _event_pb2.Event
    subscribed: Subscribed
    not_recovered: NotRecovered
    def __init__(self, event: _Optional[_Union[_event_pb2.Event, _Mapping]] = ..., subscribed: _Optional[_Union[Subscribed, _Mapping]] = ..., not_recovered: _Optional[_Union[NotRecovered, _Mapping]] = ...) -> None: ...

class NotRecovered(_message.Message):
    __slots__ = ("topic", "reason", "current")
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    topic: str
    reason: str
    current: _event_pb2.Position
    def __init__(self, topic: _Optional[str] = ..., reason: _Optional[str] = ..., current: _Optional[_Union[_event_pb2.Position, _Mapping]] = ...) -> None: ...

class Subscribed(_message.Message):
    __slots__ = ("subscription_id", "replayed")
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    subscription_id: str
    replayed: int
    def __init__(self, subscription_id: _Optional[str] = ..., replayed: _Optional[int] = ...) -> None: ...

class JoinRequest(_message.Message):
    __slots__ = ("namespace", "connection_id", "user_id", "rooms")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ROOMS_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    connection_id: str
    user_id: str
    rooms: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, namespace: _Optional[str] = ..., connection_id: _Optional[str] = ..., user_id: _Optional[str] = ..., rooms: _Optional[_Iterable[str]] = ...) -> None: ...

class JoinResponse(_message.Message):
    __slots__ = ("connections",)
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    connections: int
    def __init__(self, connections: _Optional[int] = ...) -> None: ...

class LeaveRequest(_message.Message):
    __slots__ = ("namespace", "connection_id", "user_id", "rooms")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ROOMS_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    connection_id: str
    user_id: str
    rooms: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, namespace: _Optional[str] = ..., connection_id: _Optional[str] = ..., user_id: _Optional[str] = ..., rooms: _Optional[_Iterable[str]] = ...) -> None: ...

class LeaveResponse(_message.Message):
    __slots__ = ("connections",)
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    connections: int
    def __init__(self, connections: _Optional[int] = ...) -> None: ...

class PresenceRequest(_message.Message):
    __slots__ = ("namespace", "room", "user_ids")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    USER_IDS_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    room: str
    user_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, namespace: _Optional[str] = ..., room: _Optional[str] = ..., user_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class UserPresence(_message.Message):
    __slots__ = ("user_id", "online", "connections")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ONLINE_FIELD_NUMBER: _ClassVar[int]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    online: bool
    connections: int
    def __init__(self, user_id: _Optional[str] = ..., online: bool = ..., connections: _Optional[int] = ...) -> None: ...

class PresenceResponse(_message.Message):
    __slots__ = ("users", "connections")
    USERS_FIELD_NUMBER: _ClassVar[int]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    users: _containers.RepeatedCompositeFieldContainer[UserPresence]
    connections: int
    def __init__(self, users: _Optional[_Iterable[_Union[UserPresence, _Mapping]]] = ..., connections: _Optional[int] = ...) -> None: ...

class DisconnectRequest(_message.Message):
    __slots__ = ("namespace", "connection_id", "user_id", "reason")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    connection_id: str
    user_id: str
    reason: str
    def __init__(self, namespace: _Optional[str] = ..., connection_id: _Optional[str] = ..., user_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class DisconnectResponse(_message.Message):
    __slots__ = ("connections",)
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    connections: int
    def __init__(self, connections: _Optional[int] = ...) -> None: ...

class StatsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class NamespaceStats(_message.Message):
    __slots__ = ("namespace", "connections", "users", "rooms", "events")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    USERS_FIELD_NUMBER: _ClassVar[int]
    ROOMS_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    connections: int
    users: int
    rooms: int
    events: int
    def __init__(self, namespace: _Optional[str] = ..., connections: _Optional[int] = ..., users: _Optional[int] = ..., rooms: _Optional[int] = ..., events: _Optional[int] = ...) -> None: ...

class StatsResponse(_message.Message):
    __slots__ = ("namespaces", "edges", "subscribers", "handlers")
    NAMESPACES_FIELD_NUMBER: _ClassVar[int]
    EDGES_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIBERS_FIELD_NUMBER: _ClassVar[int]
    HANDLERS_FIELD_NUMBER: _ClassVar[int]
    namespaces: _containers.RepeatedCompositeFieldContainer[NamespaceStats]
    edges: int
    subscribers: int
    handlers: int
    def __init__(self, namespaces: _Optional[_Iterable[_Union[NamespaceStats, _Mapping]]] = ..., edges: _Optional[int] = ..., subscribers: _Optional[int] = ..., handlers: _Optional[int] = ...) -> None: ...

class HandleRequest(_message.Message):
    __slots__ = ("register", "reply")
    REGISTER_FIELD_NUMBER: _ClassVar[int]
    REPLY_FIELD_NUMBER: _ClassVar[int]
    register: HandleRegister
    reply: HandleReply
    def __init__(self, register: _Optional[_Union[HandleRegister, _Mapping]] = ..., reply: _Optional[_Union[HandleReply, _Mapping]] = ...) -> None: ...

class HandleRegister(_message.Message):
    __slots__ = ("namespace", "events")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    events: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, namespace: _Optional[str] = ..., events: _Optional[_Iterable[str]] = ...) -> None: ...

class HandleReply(_message.Message):
    __slots__ = ("call_id", "args", "error")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    call_id: int
    args: _containers.RepeatedCompositeFieldContainer[_event_pb2.Arg]
    error: str
    def __init__(self, call_id: _Optional[int] = ..., args: _Optional[_Iterable[_Union[_event_pb2.Arg, _Mapping]]] = ..., error: _Optional[str] = ...) -> None: ...

class HandleResponse(_message.Message):
    __slots__ = ("registered", "event")
    REGISTERED_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    registered: HandleRegistered
    event: ClientEvent
    def __init__(self, registered: _Optional[_Union[HandleRegistered, _Mapping]] = ..., event: _Optional[_Union[ClientEvent, _Mapping]] = ...) -> None: ...

class HandleRegistered(_message.Message):
    __slots__ = ("handler_id",)
    HANDLER_ID_FIELD_NUMBER: _ClassVar[int]
    handler_id: str
    def __init__(self, handler_id: _Optional[str] = ...) -> None: ...

class ClientEvent(_message.Message):
    __slots__ = ("call_id", "namespace", "event", "connection_id", "user_id", "claims_json", "data_json", "args", "room")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    CLAIMS_JSON_FIELD_NUMBER: _ClassVar[int]
    DATA_JSON_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    call_id: int
    namespace: str
    event: str
    connection_id: str
    user_id: str
    claims_json: str
    data_json: str
    args: _containers.RepeatedCompositeFieldContainer[_event_pb2.Arg]
    room: str
    def __init__(self, call_id: _Optional[int] = ..., namespace: _Optional[str] = ..., event: _Optional[str] = ..., connection_id: _Optional[str] = ..., user_id: _Optional[str] = ..., claims_json: _Optional[str] = ..., data_json: _Optional[str] = ..., args: _Optional[_Iterable[_Union[_event_pb2.Arg, _Mapping]]] = ..., room: _Optional[str] = ...) -> None: ...

class HistoryRequest(_message.Message):
    __slots__ = ("namespace", "topic", "since", "since_ms", "limit", "reverse")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    SINCE_MS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    REVERSE_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    topic: str
    since: _event_pb2.Position
    since_ms: int
    limit: int
    reverse: bool
    def __init__(self, namespace: _Optional[str] = ..., topic: _Optional[str] = ..., since: _Optional[_Union[_event_pb2.Position, _Mapping]] = ..., since_ms: _Optional[int] = ..., limit: _Optional[int] = ..., reverse: bool = ...) -> None: ...

class HistoryResponse(_message.Message):
    __slots__ = ("events", "latest", "truncated", "not_recovered")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    LATEST_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    NOT_RECOVERED_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[_event_pb2.Event]
    latest: _event_pb2.Position
    truncated: bool
    not_recovered: str
    def __init__(self, events: _Optional[_Iterable[_Union[_event_pb2.Event, _Mapping]]] = ..., latest: _Optional[_Union[_event_pb2.Position, _Mapping]] = ..., truncated: bool = ..., not_recovered: _Optional[str] = ...) -> None: ...

class PushIfOffline(_message.Message):
    __slots__ = ("queue", "payload_json")
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_JSON_FIELD_NUMBER: _ClassVar[int]
    queue: str
    payload_json: str
    def __init__(self, queue: _Optional[str] = ..., payload_json: _Optional[str] = ...) -> None: ...
