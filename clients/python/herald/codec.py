"""JSON text <-> Python values, as carried in the *_json fields and Arg messages of herald.v1."""

from __future__ import annotations

import json
from typing import Any

from herald.v1 import event_pb2


def dumps(value: Any) -> str:
    """Encodes a value as compact JSON text; raises TypeError/ValueError when it is not JSON-encodable."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def loads_or_none(text: str) -> Any:
    """Decodes JSON text; an empty string (an unset proto field) gives None."""
    if not text:
        return None
    return json.loads(text)


def to_arg(value: Any) -> event_pb2.Arg:
    """One event argument: bytes-like values travel as binary, everything else as JSON."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return event_pb2.Arg(binary=bytes(value))
    return event_pb2.Arg(json=dumps(value))


def from_arg(arg: event_pb2.Arg) -> Any:
    """Decodes one event argument back into bytes or a JSON value."""
    if arg.WhichOneof("value") == "binary":
        return arg.binary
    return loads_or_none(arg.json)
