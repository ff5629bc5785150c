from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DeliveryClass(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DELIVERY_CLASS_UNSPECIFIED: _ClassVar[DeliveryClass]
    DELIVERY_CLASS_VOLATILE: _ClassVar[DeliveryClass]
    DELIVERY_CLASS_RECOVERABLE: _ClassVar[DeliveryClass]
DELIVERY_CLASS_UNSPECIFIED: DeliveryClass
DELIVERY_CLASS_VOLATILE: DeliveryClass
DELIVERY_CLASS_RECOVERABLE: DeliveryClass

class Arg(_message.Message):
    __slots__ = ("json", "binary")
    JSON_FIELD_NUMBER: _ClassVar[int]
    BINARY_FIELD_NUMBER: _ClassVar[int]
    json: str
    binary: bytes
    def __init__(self, json: _Optional[str] = ..., binary: _Optional[bytes] = ...) -> None: ...

class Position(_message.Message):
    __slots__ = ("topic", "offset", "epoch")
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    topic: str
    offset: int
    epoch: str
    def __init__(self, topic: _Optional[str] = ..., offset: _Optional[int] = ..., epoch: _Optional[str] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("id", "namespace", "targets", "name", "args", "delivery", "positions", "timestamp_ms", "offset", "seq")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    EXCEPT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_FIELD_NUMBER: _ClassVar[int]
    POSITIONS_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    id: str
    namespace: str
    targets: _containers.RepeatedScalarFieldContainer[str]
    name: str
    args: _containers.RepeatedCompositeFieldContainer[Arg]
    delivery: DeliveryClass
    positions: _containers.RepeatedCompositeFieldContainer[Position]
    timestamp_ms: int
    offset: str
    seq: int
    def __init__(self, id: _Optional[str] = ..., namespace: _Optional[str] = ..., targets: _Optional[_Iterable[str]] = ..., name: _Optional[str] = ..., args: _Optional[_Iterable[_Union[Arg, _Mapping]]] = ..., delivery: _Optional[_Union[DeliveryClass, str]] = ..., positions: _Optional[_Iterable[_Union[Position, _Mapping]]] = ..., timestamp_ms: _Optional[int] = ..., offset: _Optional[str] = ..., seq: _Optional[int] = ..., **kwargs) -> None: ...
