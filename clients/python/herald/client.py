"""Blocking Herald client: Emit and Subscribe events; submit, read, cancel and watch tasks."""

from __future__ import annotations

from typing import Any, Callable, Generic, Iterable, Iterator, Mapping, TypeVar

import grpc

from herald import requests
from herald.connection import DEFAULT_TOKEN, DEFAULT_URL, TLS, auth_metadata, sync_channel
from herald.errors import RpcError
from herald.models import EmitResult, Event, Notify, Position, TaskInfo, event_of_subscribe, task_of_watch
from herald.subscription import Subscription, Tracker, subscribe_opener
from herald.v1 import herald_pb2_grpc, tasks_pb2, tasks_pb2_grpc


class Client:
    """A connection to the Herald core; every call sends the service token. Use as a context manager."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        token: str = DEFAULT_TOKEN,
        timeout: float | None = 30.0,
        tls: TLS | None = None,
    ) -> None:
        self._channel = sync_channel(url, tls)
        self._metadata = auth_metadata(token)
        self._timeout = timeout
        self._herald = herald_pb2_grpc.HeraldServiceStub(self._channel)
        self._tasks = tasks_pb2_grpc.TaskServiceStub(self._channel)

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Closes the channel (open watches and subscriptions end)."""
        self._channel.close()

    def emit(
        self,
        event: str,
        to: Iterable[str] | str,
        args: Iterable[Any] | None = None,
        except_: Iterable[str] | str | None = None,
        namespace: str = "/",
        ack_timeout_ms: int = 0,
        idempotency_key: str | None = None,
        push_if_offline: Mapping[str, Any] | None = None,
    ) -> EmitResult:
        """Sends `event(*args)` to the connections in the `to` topics, minus those in `except_`."""
        req = requests.emit_request(
            event, to, args, except_, namespace, ack_timeout_ms, idempotency_key, push_if_offline
        )
        resp = self._unary(self._herald.Emit, req)
        return EmitResult.from_proto(resp)

    def subscribe(self, topics: Iterable[str] | str, namespace: str = "/") -> "Stream[Event]":
        """Follows the events addressed to the topics; iterate the result, cancel() to stop."""
        call = self._herald.Subscribe(requests.subscribe_request(topics, namespace), metadata=self._metadata)
        return Stream(call, event_of_subscribe)

    def follow(
        self,
        topics: Iterable[str] | str,
        namespace: str = "/",
        since: Iterable[Position] | None = None,
        max_resumes: int = 5,
    ) -> Subscription:
        """Like subscribe, but keeps its place: yields each event once, in order, and NotRecovered when a topic's
        events may be missing; a stream broken by the core (restart, resync, too slow) resumes from the positions."""

        opener = subscribe_opener(self._herald, self._metadata)
        return Subscription(opener, Tracker(namespace, topics, since or ()), max_resumes)

    def submit(
        self,
        queue: str,
        payload: Any,
        idempotency_key: str | None = None,
        max_attempts: int | None = None,
        attempt_timeout_ms: int | None = None,
        notify: Notify | Mapping[str, str] | None = None,
    ) -> TaskInfo:
        """Creates a task (payload: any JSON value); an existing idempotency key returns that task (created=False)."""
        req = requests.submit_request(queue, payload, idempotency_key, max_attempts, attempt_timeout_ms, notify)
        resp = self._unary(self._tasks.SubmitTask, req)
        return TaskInfo.from_proto(resp.task, created=resp.created)

    def get(self, task_id: str) -> TaskInfo:
        """Reads a task."""
        resp = self._unary(self._tasks.GetTask, tasks_pb2.GetTaskRequest(id=task_id))
        return TaskInfo.from_proto(resp.task)

    def cancel(self, task_id: str, reason: str = "") -> TaskInfo:
        """Cancels a queued or running task (a running one is revoked from its worker)."""
        resp = self._unary(self._tasks.CancelTask, tasks_pb2.CancelTaskRequest(id=task_id, reason=reason))
        return TaskInfo.from_proto(resp.task)

    def watch(self, ids: Iterable[str] | str | None = None, queue: str | None = None) -> "Stream[TaskInfo]":
        """Status changes of the given tasks or of a whole queue; iterate the result, cancel() to stop."""
        call = self._tasks.WatchTasks(requests.watch_request(ids, queue), metadata=self._metadata)
        return Stream(call, task_of_watch)

    def _unary(self, method: Any, req: Any) -> Any:
        try:
            return method(req, metadata=self._metadata, timeout=self._timeout)
        except grpc.RpcError as err:
            raise RpcError.from_grpc(err) from None


T = TypeVar("T")


class Stream(Generic[T]):
    """A server stream turned into an iterator of dataclasses; ends quietly when cancelled."""

    def __init__(self, call: Any, convert: Callable[[Any], T | None]) -> None:
        self._call = call
        self._convert = convert

    def __iter__(self) -> Iterator[T]:
        try:
            for msg in self._call:
                item = self._convert(msg)
                if item is not None:
                    yield item
        except grpc.RpcError as err:
            if err.code() == grpc.StatusCode.CANCELLED:
                return
            raise RpcError.from_grpc(err) from None

    def __enter__(self) -> "Stream[T]":
        return self

    def __exit__(self, *exc: object) -> None:
        self.cancel()

    def cancel(self) -> None:
        """Stops the stream; the iterator ends."""
        self._call.cancel()

