"""asyncio Herald client: the same calls as herald.Client, awaited, with async-iterable streams."""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, Callable, Generic, Iterable, Mapping, TypeVar

import grpc
import grpc.aio

from herald import requests
from herald.connection import DEFAULT_TOKEN, DEFAULT_URL, TLS, aio_channel, auth_metadata
from herald.errors import RpcError
from herald.models import EmitResult, Event, Notify, Position, TaskInfo, event_of_subscribe, task_of_watch
from herald.subscription import AsyncSubscription, Tracker, subscribe_opener
from herald.v1 import herald_pb2_grpc, tasks_pb2, tasks_pb2_grpc

T = TypeVar("T")


class AsyncClient:
    """asyncio connection to the Herald core; create it inside a running loop, `async with` to close it."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        token: str = DEFAULT_TOKEN,
        timeout: float | None = 30.0,
        tls: TLS | None = None,
    ) -> None:
        self._channel = aio_channel(url, tls)
        self._metadata = auth_metadata(token)
        self._timeout = timeout
        self._herald = herald_pb2_grpc.HeraldServiceStub(self._channel)
        self._tasks = tasks_pb2_grpc.TaskServiceStub(self._channel)

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Closes the channel."""
        await self._channel.close()

    async def emit(
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
        """See Client.emit."""
        req = requests.emit_request(
            event, to, args, except_, namespace, ack_timeout_ms, idempotency_key, push_if_offline
        )
        return EmitResult.from_proto(await self._unary(self._herald.Emit, req))

    def subscribe(self, topics: Iterable[str] | str, namespace: str = "/") -> "AsyncStream[Event]":
        """See Client.subscribe; `async for` over the result."""
        call = self._herald.Subscribe(requests.subscribe_request(topics, namespace), metadata=self._metadata)
        return AsyncStream(call, event_of_subscribe)

    def follow(
        self,
        topics: Iterable[str] | str,
        namespace: str = "/",
        since: Iterable[Position] | None = None,
        max_resumes: int = 5,
    ) -> AsyncSubscription:
        """See Client.follow; `async for` over the result."""

        opener = subscribe_opener(self._herald, self._metadata)
        return AsyncSubscription(opener, Tracker(namespace, topics, since or ()), max_resumes)

    async def submit(
        self,
        queue: str,
        payload: Any,
        idempotency_key: str | None = None,
        max_attempts: int | None = None,
        attempt_timeout_ms: int | None = None,
        notify: Notify | Mapping[str, str] | None = None,
    ) -> TaskInfo:
        """See Client.submit."""
        req = requests.submit_request(queue, payload, idempotency_key, max_attempts, attempt_timeout_ms, notify)
        resp = await self._unary(self._tasks.SubmitTask, req)
        return TaskInfo.from_proto(resp.task, created=resp.created)

    async def get(self, task_id: str) -> TaskInfo:
        """See Client.get."""
        resp = await self._unary(self._tasks.GetTask, tasks_pb2.GetTaskRequest(id=task_id))
        return TaskInfo.from_proto(resp.task)

    async def cancel(self, task_id: str, reason: str = "") -> TaskInfo:
        """See Client.cancel."""
        resp = await self._unary(self._tasks.CancelTask, tasks_pb2.CancelTaskRequest(id=task_id, reason=reason))
        return TaskInfo.from_proto(resp.task)

    def watch(self, ids: Iterable[str] | str | None = None, queue: str | None = None) -> "AsyncStream[TaskInfo]":
        """See Client.watch; `async for` over the result."""
        call = self._tasks.WatchTasks(requests.watch_request(ids, queue), metadata=self._metadata)
        return AsyncStream(call, task_of_watch)

    async def _unary(self, method: Any, req: Any) -> Any:
        try:
            return await method(req, metadata=self._metadata, timeout=self._timeout)
        except grpc.RpcError as err:
            raise RpcError.from_grpc(err) from None


class AsyncStream(Generic[T]):
    """A server stream as an async iterator of dataclasses; ends quietly when cancelled."""

    def __init__(self, call: Any, convert: Callable[[Any], T | None]) -> None:
        self._call = call
        self._convert = convert

    async def __aiter__(self) -> AsyncIterator[T]:
        try:
            async for msg in self._call:
                item = self._convert(msg)
                if item is not None:
                    yield item
        except asyncio.CancelledError:
            if self._call.cancelled():
                return
            raise
        except grpc.RpcError as err:
            if err.code() == grpc.StatusCode.CANCELLED:
                return
            raise RpcError.from_grpc(err) from None

    def cancel(self) -> None:
        """Stops the stream."""
        self._call.cancel()

