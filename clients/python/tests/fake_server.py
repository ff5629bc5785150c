"""A scriptable in-process TaskService (ScrapeTask only) for unit-testing the worker without Herald."""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator

import grpc
import grpc.aio

from herald.v1 import tasks_pb2, tasks_pb2_grpc

HANG_GUARD = 10.0


class FakeStream:
    """One worker stream as the test sees it: what the worker sent, and a way to answer."""

    def __init__(self, metadata: dict[str, str]) -> None:
        self.metadata = metadata
        self.received: asyncio.Queue[tasks_pb2.ScrapeTaskRequest] = asyncio.Queue()
        self.outbox: asyncio.Queue[Any] = asyncio.Queue()
        self.closed_by_worker = asyncio.Event()

    def send(self, **kwargs: Any) -> None:
        """Sends one ScrapeTaskResponse (e.g. send(welcome=tasks_pb2.WorkerWelcome(...)))."""
        self.outbox.put_nowait(tasks_pb2.ScrapeTaskResponse(**kwargs))

    def abort(self, code: grpc.StatusCode, details: str = "fake abort") -> None:
        """Ends the stream with a status."""
        self.outbox.put_nowait((code, details))

    def assign(self, task_id: str, lease: int, payload: str = "{}", queue: str = "scrape", attempt: int = 1) -> None:
        """Sends an assignment."""
        task = tasks_pb2.Task(id=task_id, queue=queue, payload_json=payload, attempt=attempt, max_attempts=3)
        self.send(assignment=tasks_pb2.TaskAssignment(task=task, lease_token=lease, lease_deadline_ms=0))

    async def next(self, kind: str | None = None, skip: tuple[str, ...] = ("heartbeat",)) -> Any:
        """The next message the worker sent (of `kind` if given), skipping heartbeats; its inner message."""
        while True:
            msg = await asyncio.wait_for(self.received.get(), HANG_GUARD)
            which = msg.WhichOneof("msg")
            if which in skip and which != kind:
                continue
            if kind is not None and which != kind:
                raise AssertionError(f"expected {kind}, worker sent {which}: {msg}")
            return getattr(msg, which)


class FakeTasks(tasks_pb2_grpc.TaskServiceServicer):
    """Hands each new ScrapeTask stream to the test through `streams`."""

    def __init__(self) -> None:
        self.streams: asyncio.Queue[FakeStream] = asyncio.Queue()

    async def next_stream(self) -> FakeStream:
        """The next stream a worker opens."""
        return await asyncio.wait_for(self.streams.get(), HANG_GUARD)

    async def ScrapeTask(self, request_iterator: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        stream = FakeStream({k: v for k, v in context.invocation_metadata()})
        await self.streams.put(stream)

        async def pump() -> None:
            async for req in request_iterator:
                await stream.received.put(req)
            stream.closed_by_worker.set()

        pumping = asyncio.get_running_loop().create_task(pump())
        try:
            while True:
                out_get = asyncio.ensure_future(stream.outbox.get())
                done, _ = await asyncio.wait({out_get, pumping}, return_when=asyncio.FIRST_COMPLETED)
                if out_get not in done:
                    out_get.cancel()
                    return
                item = out_get.result()
                if isinstance(item, tuple):
                    await context.abort(item[0], item[1])
                    return
                yield item
        finally:
            pumping.cancel()


async def start_fake() -> tuple[grpc.aio.Server, FakeTasks, str]:
    """Starts the fake on a free loopback port; returns (server, servicer, "127.0.0.1:PORT")."""
    server = grpc.aio.server()
    fake = FakeTasks()
    tasks_pb2_grpc.add_TaskServiceServicer_to_server(fake, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, fake, f"127.0.0.1:{port}"
