from herald.v1 import event_pb2 as _event_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EmitRequest(_message.Message):
    __slots__ = ("namespace", "targets", "event", "args", "delivery", "ack_timeout_ms", "idempotency_key")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    EXCEPT_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_FIELD_NUMBER: _ClassVar[int]
    ACK_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    targets: _containers.RepeatedScalarFieldContainer[str]
    event: str
    args: _containers.RepeatedCompositeFieldContainer[_event_pb2.Arg]
    delivery: _event_pb2.DeliveryClass
    ack_timeout_ms: int
    idempotency_key: str
    def __init__(self, namespace: _Optional[str] = ..., targets: _Optional[_Iterable[str]] = ..., event: _Optional[str] = ..., args: _Optional[_Iterable[_Union[_event_pb2.Arg, _Mapping]]] = ..., delivery: _Optional[_Union[_event_pb2.DeliveryClass, str]] = ..., ack_timeout_ms: _Optional[int] = ..., idempotency_key: _Optional[str] = ..., **kwargs) -> None: ...

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
    __slots__ = ("namespace", "topics")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    TOPICS_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    topics: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, namespace: _Optional[str] = ..., topics: _Optional[_Iterable[str]] = ...) -> None: ...

class SubscribeResponse(_message.Message):
    __slots__ = ("event", "subscribed")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIBED_FIELD_NUMBER: _ClassVar[int]
    event: _event_pb2.Event
    subscribed: Subscribed
    def __init__(self, event: _Optional[_Union[_event_pb2.Event, _Mapping]] = ..., subscribed: _Optional[_Union[Subscribed, _Mapping]] = ...) -> None: ...

class Subscribed(_message.Message):
    __slots__ = ("subscription_id",)
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    subscription_id: str
    def __init__(self, subscription_id: _Optional[str] = ...) -> None: ...
