from herald.v1 import event_pb2 as _event_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LinkRequest(_message.Message):
    __slots__ = ("request_id", "hello", "opened", "closed", "join", "leave", "ack", "forward", "relay", "lookup")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    HELLO_FIELD_NUMBER: _ClassVar[int]
    OPENED_FIELD_NUMBER: _ClassVar[int]
    CLOSED_FIELD_NUMBER: _ClassVar[int]
    JOIN_FIELD_NUMBER: _ClassVar[int]
    LEAVE_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    FORWARD_FIELD_NUMBER: _ClassVar[int]
    RELAY_FIELD_NUMBER: _ClassVar[int]
    LOOKUP_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    hello: LinkHello
    opened: ConnectionOpened
    closed: ConnectionClosed
    join: RoomChange
    leave: RoomChange
    ack: ClientAck
    forward: ClientEventForward
    relay: RelayEvent
    lookup: SessionLookup
    def __init__(self, request_id: _Optional[int] = ..., hello: _Optional[_Union[LinkHello, _Mapping]] = ..., opened: _Optional[_Union[ConnectionOpened, _Mapping]] = ..., closed: _Optional[_Union[ConnectionClosed, _Mapping]] = ..., join: _Optional[_Union[RoomChange, _Mapping]] = ..., leave: _Optional[_Union[RoomChange, _Mapping]] = ..., ack: _Optional[_Union[ClientAck, _Mapping]] = ..., forward: _Optional[_Union[ClientEventForward, _Mapping]] = ..., relay: _Optional[_Union[RelayEvent, _Mapping]] = ..., lookup: _Optional[_Union[SessionLookup, _Mapping]] = ...) -> None: ...

class ClientEventForward(_message.Message):
    __slots__ = ("namespace", "event", "connection_id", "user_id", "claims_json", "data_json", "args", "room")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    CLAIMS_JSON_FIELD_NUMBER: _ClassVar[int]
    DATA_JSON_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    event: str
    connection_id: str
    user_id: str
    claims_json: str
    data_json: str
    args: _containers.RepeatedCompositeFieldContainer[_event_pb2.Arg]
    room: str
    def __init__(self, namespace: _Optional[str] = ..., event: _Optional[str] = ..., connection_id: _Optional[str] = ..., user_id: _Optional[str] = ..., claims_json: _Optional[str] = ..., data_json: _Optional[str] = ..., args: _Optional[_Iterable[_Union[_event_pb2.Arg, _Mapping]]] = ..., room: _Optional[str] = ...) -> None: ...

class RelayEvent(_message.Message):
    __slots__ = ("namespace", "room", "connection_id", "event", "args", "delivered_locally", "exclude_user")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_LOCALLY_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_USER_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    room: str
    connection_id: str
    event: str
    args: _containers.RepeatedCompositeFieldContainer[_event_pb2.Arg]
    delivered_locally: bool
    exclude_user: bool
    def __init__(self, namespace: _Optional[str] = ..., room: _Optional[str] = ..., connection_id: _Optional[str] = ..., event: _Optional[str] = ..., args: _Optional[_Iterable[_Union[_event_pb2.Arg, _Mapping]]] = ..., delivered_locally: bool = ..., exclude_user: bool = ...) -> None: ...

class LinkHello(_message.Message):
    __slots__ = ("edge_name",)
    EDGE_NAME_FIELD_NUMBER: _ClassVar[int]
    edge_name: str
    def __init__(self, edge_name: _Optional[str] = ...) -> None: ...

class ConnectionOpened(_message.Message):
    __slots__ = ("connection_id", "namespace", "user_id", "pid", "rooms", "resume_offset", "data_json", "granted_rooms")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    ROOMS_FIELD_NUMBER: _ClassVar[int]
    RESUME_OFFSET_FIELD_NUMBER: _ClassVar[int]
    DATA_JSON_FIELD_NUMBER: _ClassVar[int]
    GRANTED_ROOMS_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    namespace: str
    user_id: str
    pid: str
    rooms: _containers.RepeatedScalarFieldContainer[str]
    resume_offset: str
    data_json: str
    granted_rooms: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, connection_id: _Optional[str] = ..., namespace: _Optional[str] = ..., user_id: _Optional[str] = ..., pid: _Optional[str] = ..., rooms: _Optional[_Iterable[str]] = ..., resume_offset: _Optional[str] = ..., data_json: _Optional[str] = ..., granted_rooms: _Optional[_Iterable[str]] = ...) -> None: ...

class ConnectionClosed(_message.Message):
    __slots__ = ("connection_id", "reason", "recoverable")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RECOVERABLE_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    reason: str
    recoverable: bool
    def __init__(self, connection_id: _Optional[str] = ..., reason: _Optional[str] = ..., recoverable: bool = ...) -> None: ...

class SessionLookup(_message.Message):
    __slots__ = ("pid", "namespace", "user_id", "offset")
    PID_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    pid: str
    namespace: str
    user_id: str
    offset: str
    def __init__(self, pid: _Optional[str] = ..., namespace: _Optional[str] = ..., user_id: _Optional[str] = ..., offset: _Optional[str] = ...) -> None: ...

class SavedSession(_message.Message):
    __slots__ = ("connection_id", "rooms", "data_json", "granted_rooms")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    ROOMS_FIELD_NUMBER: _ClassVar[int]
    DATA_JSON_FIELD_NUMBER: _ClassVar[int]
    GRANTED_ROOMS_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    rooms: _containers.RepeatedScalarFieldContainer[str]
    data_json: str
    granted_rooms: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, connection_id: _Optional[str] = ..., rooms: _Optional[_Iterable[str]] = ..., data_json: _Optional[str] = ..., granted_rooms: _Optional[_Iterable[str]] = ...) -> None: ...

class RoomChange(_message.Message):
    __slots__ = ("connection_id", "room")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    room: str
    def __init__(self, connection_id: _Optional[str] = ..., room: _Optional[str] = ...) -> None: ...

class ClientAck(_message.Message):
    __slots__ = ("ack_ref", "connection_id", "args")
    ACK_REF_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    ack_ref: int
    connection_id: str
    args: _containers.RepeatedCompositeFieldContainer[_event_pb2.Arg]
    def __init__(self, ack_ref: _Optional[int] = ..., connection_id: _Optional[str] = ..., args: _Optional[_Iterable[_Union[_event_pb2.Arg, _Mapping]]] = ...) -> None: ...

class LinkResponse(_message.Message):
    __slots__ = ("welcome", "delivery", "membership", "disconnect", "applied")
    WELCOME_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_FIELD_NUMBER: _ClassVar[int]
    MEMBERSHIP_FIELD_NUMBER: _ClassVar[int]
    DISCONNECT_FIELD_NUMBER: _ClassVar[int]
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    welcome: LinkWelcome
    delivery: Delivery
    membership: MembershipChange
    disconnect: DisconnectCommand
    applied: Applied
    def __init__(self, welcome: _Optional[_Union[LinkWelcome, _Mapping]] = ..., delivery: _Optional[_Union[Delivery, _Mapping]] = ..., membership: _Optional[_Union[MembershipChange, _Mapping]] = ..., disconnect: _Optional[_Union[DisconnectCommand, _Mapping]] = ..., applied: _Optional[_Union[Applied, _Mapping]] = ...) -> None: ...

class Applied(_message.Message):
    __slots__ = ("request_id", "error", "args", "session", "replay", "floor_seq")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    REPLAY_FIELD_NUMBER: _ClassVar[int]
    FLOOR_SEQ_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    error: str
    args: _containers.RepeatedCompositeFieldContainer[_event_pb2.Arg]
    session: SavedSession
    replay: _containers.RepeatedCompositeFieldContainer[_event_pb2.Event]
    floor_seq: int
    def __init__(self, request_id: _Optional[int] = ..., error: _Optional[str] = ..., args: _Optional[_Iterable[_Union[_event_pb2.Arg, _Mapping]]] = ..., session: _Optional[_Union[SavedSession, _Mapping]] = ..., replay: _Optional[_Iterable[_Union[_event_pb2.Event, _Mapping]]] = ..., floor_seq: _Optional[int] = ...) -> None: ...

class LinkWelcome(_message.Message):
    __slots__ = ("link_id", "broker_epoch")
    LINK_ID_FIELD_NUMBER: _ClassVar[int]
    BROKER_EPOCH_FIELD_NUMBER: _ClassVar[int]
    link_id: str
    broker_epoch: str
    def __init__(self, link_id: _Optional[str] = ..., broker_epoch: _Optional[str] = ...) -> None: ...

class Delivery(_message.Message):
    __slots__ = ("event", "ack_ref")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    ACK_REF_FIELD_NUMBER: _ClassVar[int]
    event: _event_pb2.Event
    ack_ref: int
    def __init__(self, event: _Optional[_Union[_event_pb2.Event, _Mapping]] = ..., ack_ref: _Optional[int] = ...) -> None: ...

class MembershipChange(_message.Message):
    __slots__ = ("namespace", "connection_id", "user_id", "room", "join", "seq")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ROOM_FIELD_NUMBER: _ClassVar[int]
    JOIN_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    connection_id: str
    user_id: str
    room: str
    join: bool
    seq: int
    def __init__(self, namespace: _Optional[str] = ..., connection_id: _Optional[str] = ..., user_id: _Optional[str] = ..., room: _Optional[str] = ..., join: bool = ..., seq: _Optional[int] = ...) -> None: ...

class DisconnectCommand(_message.Message):
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
