"""One ScrapeTask stream of a worker: hello, assignments, acks, heartbeats, revocations, results."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from dataclasses import dataclass
from typing import AsyncIterator, Callable

import grpc
import grpc.aio

from herald import handler as handlers
from herald.errors import WorkerConfigError
from herald.outcomes import Outcomes
from herald.task import Task
from herald.v1 import tasks_pb2, tasks_pb2_grpc

log = logging.getLogger("herald.worker")

OUTBOX_SIZE = 256
DEFAULT_HEARTBEAT_S = 10.0
# How long before an outcome the server could not record yet (UNAVAILABLE) is sent again.
RESEND_DELAY_S = 1.0
# Codes that a reconnect cannot fix when they end a stream before the welcome.
FATAL_CODES = frozenset(
    {grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.INVALID_ARGUMENT}
)
_CLOSE = object()


@dataclass
class _Running:
    task: Task
    job: asyncio.Task[None]


class Session:
    """Runs one stream until it breaks or the worker drains; never runs more than `capacity` tasks."""

    def __init__(
        self,
        stub: tasks_pb2_grpc.TaskServiceStub,
        metadata: tuple[tuple[str, str], ...],
        hello: tasks_pb2.WorkerHello,
        handler: handlers.Handler,
        executor: concurrent.futures.Executor | None,
        draining: asyncio.Event,
        grace_period: float,
        on_connect: Callable[[str], None] | None = None,
        outcomes: Outcomes | None = None,
    ) -> None:
        self._stub = stub
        self._metadata = metadata
        self._hello = hello
        self._handler = handler
        self._executor = executor
        self._draining = draining
        self._grace = grace_period
        self._on_connect = on_connect
        self._outcomes = outcomes if outcomes is not None else Outcomes()
        self._resends: set[asyncio.Task[None]] = set()
        self._outbox: asyncio.Queue[object] = asyncio.Queue(maxsize=OUTBOX_SIZE)
        self._running: dict[str, _Running] = {}
        self._idle = asyncio.Event()
        self._idle.set()
        self.welcomed = False
        self.worker_id = ""
        self.max_running = 0

    @property
    def running(self) -> int:
        """Tasks currently held by this session."""
        return len(self._running)

    async def run(self) -> None:
        """Runs the stream; returns when it ends (server closed, error, or drained). Raises WorkerConfigError."""
        loop = asyncio.get_running_loop()
        call = self._stub.ScrapeTask(self._requests(), metadata=self._metadata)
        reader = loop.create_task(self._read(call))
        drain = loop.create_task(self._draining.wait())
        try:
            done, _ = await asyncio.wait({reader, drain}, return_when=asyncio.FIRST_COMPLETED)
            if reader in done:
                self._raise_if_fatal(reader)
                return
            await self._drain(reader)
        finally:
            drain.cancel()
            for job in self._resends:
                job.cancel()
            self._abandon_all()
            self._close_requests()
            call.cancel()
            if not reader.done():
                reader.cancel()
            await asyncio.gather(reader, drain, return_exceptions=True)

    async def _drain(self, reader: asyncio.Task[None]) -> None:
        """Stops taking tasks, waits up to the grace period for the running ones, then closes the stream."""
        log.info("worker draining: %d task(s) running, grace %.1fs", len(self._running), self._grace)
        idle = asyncio.ensure_future(self._idle.wait())
        try:
            await asyncio.wait({idle, reader}, timeout=self._grace, return_when=asyncio.FIRST_COMPLETED)
        finally:
            idle.cancel()
        if self._running:
            log.warning("grace period over: abandoning %d task(s) to the server", len(self._running))
            self._abandon_all()
        if reader.done():
            return
        try:
            await asyncio.wait_for(self._outbox.put(_CLOSE), timeout=5.0)
        except asyncio.TimeoutError:
            return
        # Let the server see the half-close and end the stream; do not wait forever.
        await asyncio.wait({reader}, timeout=5.0)

    def _raise_if_fatal(self, reader: asyncio.Task[None]) -> None:
        err = reader.exception()
        if err is None:
            log.info("worker stream closed by the server")
            return
        if isinstance(err, grpc.aio.AioRpcError):
            if not self.welcomed and err.code() in FATAL_CODES:
                raise WorkerConfigError(f"server refused the worker: {err.code().name}: {err.details()}")
            log.warning("worker stream broke: %s: %s", err.code().name, err.details())
            return
        raise err

    async def _requests(self) -> AsyncIterator[tasks_pb2.ScrapeTaskRequest]:
        yield tasks_pb2.ScrapeTaskRequest(hello=self._hello)
        while True:
            item = await self._outbox.get()
            if item is _CLOSE:
                return
            assert isinstance(item, tasks_pb2.ScrapeTaskRequest)
            yield item

    def _close_requests(self) -> None:
        """Ends the request generator so gRPC's consumer task finishes instead of being left pending."""
        while True:
            try:
                self._outbox.put_nowait(_CLOSE)
                return
            except asyncio.QueueFull:
                self._outbox.get_nowait()

    async def send(self, msg: tasks_pb2.ScrapeTaskRequest) -> None:
        """Queues a message on the stream (waits when the bounded outbox is full)."""
        await self._outbox.put(msg)

    async def _read(self, call: grpc.aio.StreamStreamCall) -> None:
        heartbeat: asyncio.Task[None] | None = None
        try:
            async for resp in call:
                kind = resp.WhichOneof("msg")
                if kind == "welcome":
                    self.welcomed = True
                    self.worker_id = resp.welcome.worker_id
                    interval = resp.welcome.heartbeat_interval_ms / 1000 or DEFAULT_HEARTBEAT_S
                    if heartbeat is not None:
                        heartbeat.cancel()
                    heartbeat = asyncio.get_running_loop().create_task(self._heartbeat(interval))
                    log.info("worker %s welcomed, heartbeat every %.1fs", self.worker_id, interval)
                    if self._on_connect is not None:
                        self._on_connect(self.worker_id)
                    # Outcomes an earlier stream sent without an answer: the server decides by their lease.
                    for msg in self._outcomes.pending():
                        await self.send(msg)
                elif kind == "assignment":
                    await self._on_assignment(resp.assignment)
                elif kind == "revoked":
                    self._on_revoked(resp.revoked)
                elif kind == "ping":
                    await self.send(_heartbeat_message())
                elif kind == "rejected":
                    self._on_rejected(resp.rejected)
                elif kind == "accepted":
                    log.debug("task %s accepted as %s", resp.accepted.task_id, resp.accepted.status)
                    self._outcomes.answered(resp.accepted.task_id, resp.accepted.lease_token)
        finally:
            if heartbeat is not None:
                heartbeat.cancel()

    async def _heartbeat(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await self.send(_heartbeat_message())

    async def _on_assignment(self, msg: tasks_pb2.TaskAssignment) -> None:
        loop = asyncio.get_running_loop()
        try:
            task = Task.from_assignment(msg, self.send, loop)
        except ValueError as err:
            bad = Task(msg.task.id, msg.task.queue, None, msg.task.attempt, msg.task.max_attempts,
                       msg.lease_token, msg.lease_deadline_ms, self.send, loop)
            await self.send(handlers.failure_message(bad, f"payload is not JSON: {err}", retryable=False))
            return
        if self._draining.is_set():
            await self.send(handlers.failure_message(task, "worker is shutting down", retryable=True))
            return
        previous = self._running.pop(task.id, None)
        if previous is not None:
            previous.job.cancel()
        if len(self._running) >= self._hello.capacity:
            log.warning("assignment %s over capacity %d: handing it back", task.id, self._hello.capacity)
            await self.send(handlers.failure_message(task, "worker at capacity", retryable=True))
            return
        await self.send(tasks_pb2.ScrapeTaskRequest(ack=tasks_pb2.TaskAck(task_id=task.id, lease_token=task.lease_token)))
        job = loop.create_task(self._execute(task))
        self._running[task.id] = _Running(task, job)
        self._idle.clear()
        self.max_running = max(self.max_running, len(self._running))

    async def _execute(self, task: Task) -> None:
        try:
            value = await handlers.invoke(self._handler, task, self._executor)
        except asyncio.CancelledError:
            log.info("task %s stopped (revoked or abandoned)", task.id)
            self._forget(task)
            raise
        except Exception as err:  # the handler's failure is reported, never raised here
            log.info("task %s failed: %s", task.id, err)
            msg = handlers.outcome_message(task, error=err)
        else:
            msg = handlers.outcome_message(task, value=value)
        if self._holds(task):
            self._outcomes.keep(msg)
            await self.send(msg)
        self._forget(task)

    def _holds(self, task: Task) -> bool:
        current = self._running.get(task.id)
        return current is not None and current.task.lease_token == task.lease_token

    def _forget(self, task: Task) -> None:
        if self._holds(task):
            del self._running[task.id]
        if not self._running:
            self._idle.set()

    def _on_revoked(self, msg: tasks_pb2.TaskRevoked) -> None:
        current = self._running.get(msg.task_id)
        if current is None:
            return
        if msg.lease_token and msg.lease_token != current.task.lease_token:
            return
        log.info("task %s revoked: %s", msg.task_id, msg.reason)
        del self._running[msg.task_id]
        current.job.cancel()
        if not self._running:
            self._idle.set()

    def _on_rejected(self, msg: tasks_pb2.TaskRejected) -> None:
        log.warning("server rejected a message about task %s (code %d): %s", msg.task_id, msg.code, msg.message)
        kept = self._outcomes.get(msg.task_id, msg.lease_token)
        if kept is not None:
            if msg.code == grpc.StatusCode.UNAVAILABLE.value[0]:
                job = asyncio.get_running_loop().create_task(self._resend_later(kept))
                self._resends.add(job)
                job.add_done_callback(self._resends.discard)
            else:
                self._outcomes.answered(msg.task_id, msg.lease_token)
        stale = msg.code in (grpc.StatusCode.FAILED_PRECONDITION.value[0], grpc.StatusCode.NOT_FOUND.value[0])
        current = self._running.get(msg.task_id)
        if stale and current is not None and current.task.lease_token == msg.lease_token:
            self._on_revoked(tasks_pb2.TaskRevoked(task_id=msg.task_id, lease_token=msg.lease_token, reason="rejected"))

    async def _resend_later(self, msg: tasks_pb2.ScrapeTaskRequest) -> None:
        """Sends a kept outcome again after a pause, if it is still unanswered."""
        await asyncio.sleep(RESEND_DELAY_S)
        key = msg.result if msg.WhichOneof("msg") == "result" else msg.failure
        if self._outcomes.get(key.task_id, key.lease_token) is msg:
            await self.send(msg)

    def abandon(self) -> None:
        """Stops every running handler now; the server re-queues their tasks when the stream closes."""
        self._abandon_all()

    def _abandon_all(self) -> None:
        for running in self._running.values():
            running.job.cancel()
        self._running.clear()
        self._idle.set()


def _heartbeat_message() -> tasks_pb2.ScrapeTaskRequest:
    return tasks_pb2.ScrapeTaskRequest(heartbeat=tasks_pb2.WorkerHeartbeat())
