"""Builds herald.v1 request messages from Python arguments (shared by Client and AsyncClient)."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from herald import codec
from herald.models import Notify
from herald.v1 import herald_pb2, tasks_pb2


def emit_request(
    event: str,
    to: Iterable[str],
    args: Iterable[Any] | None = None,
    except_: Iterable[str] | None = None,
    namespace: str = "/",
    ack_timeout_ms: int = 0,
    idempotency_key: str | None = None,
    push_if_offline: Mapping[str, Any] | None = None,
) -> herald_pb2.EmitRequest:
    """EmitRequest; `to` and `except_` are topics ("user:42", "room:x", "conn:ID", "*").

    `push_if_offline={"queue": "push", "payload": {...}}` submits one task per targeted offline user.
    """
    targets = [to] if isinstance(to, str) else list(to)
    excluded = [except_] if isinstance(except_, str) else list(except_ or [])
    req = herald_pb2.EmitRequest(
        namespace=namespace,
        targets=targets,
        event=event,
        args=[codec.to_arg(a) for a in (args or [])],
        ack_timeout_ms=ack_timeout_ms,
        idempotency_key=idempotency_key or "",
    )
    # `except` is a Python keyword, so the field is reached through getattr.
    getattr(req, "except").extend(excluded)
    if push_if_offline is not None:
        req.push_if_offline.CopyFrom(
            herald_pb2.PushIfOffline(
                queue=str(push_if_offline["queue"]), payload_json=codec.dumps(push_if_offline.get("payload"))
            )
        )
    return req


def submit_request(
    queue: str,
    payload: Any,
    idempotency_key: str | None = None,
    max_attempts: int | None = None,
    attempt_timeout_ms: int | None = None,
    notify: Notify | Mapping[str, str] | None = None,
) -> tasks_pb2.SubmitTaskRequest:
    """SubmitTaskRequest; the payload is any JSON-encodable value."""
    req = tasks_pb2.SubmitTaskRequest(
        queue=queue,
        payload_json=codec.dumps(payload),
        idempotency_key=idempotency_key or "",
        max_attempts=max_attempts or 0,
        attempt_timeout_ms=attempt_timeout_ms or 0,
    )
    if notify is not None:
        req.notify.CopyFrom(Notify.coerce(notify).to_proto())
    return req


def watch_request(ids: Iterable[str] | None = None, queue: str | None = None) -> tasks_pb2.WatchTasksRequest:
    """WatchTasksRequest for some task ids or a whole queue."""
    id_list = [ids] if isinstance(ids, str) else list(ids or [])
    if not id_list and not queue:
        raise ValueError("watch needs task ids or a queue")
    return tasks_pb2.WatchTasksRequest(ids=id_list, queue=queue or "")


def subscribe_request(topics: Iterable[str], namespace: str = "/") -> herald_pb2.SubscribeRequest:
    """SubscribeRequest for some topics of a namespace."""
    topic_list = [topics] if isinstance(topics, str) else list(topics)
    return herald_pb2.SubscribeRequest(namespace=namespace, topics=topic_list)
