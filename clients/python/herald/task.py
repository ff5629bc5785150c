"""The task object a worker handler receives: decoded payload, attempt, and progress reporting."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from herald import codec
from herald.v1 import tasks_pb2

Sender = Callable[[tasks_pb2.ScrapeTaskRequest], Awaitable[None]]


@dataclass
class Task:
    """One assignment: what to do (`payload`, decoded JSON) and the lease it runs under."""

    id: str
    queue: str
    payload: Any
    attempt: int
    max_attempts: int
    lease_token: int
    lease_deadline_ms: int
    _send: Sender = field(repr=False)
    _loop: asyncio.AbstractEventLoop = field(repr=False)

    @classmethod
    def from_assignment(
        cls, msg: tasks_pb2.TaskAssignment, send: Sender, loop: asyncio.AbstractEventLoop
    ) -> "Task":
        """Builds the handler's view of an assignment; raises ValueError when the payload is not JSON."""
        return cls(
            id=msg.task.id,
            queue=msg.task.queue,
            payload=codec.loads_or_none(msg.task.payload_json),
            attempt=msg.task.attempt,
            max_attempts=msg.task.max_attempts,
            lease_token=msg.lease_token,
            lease_deadline_ms=msg.lease_deadline_ms,
            _send=send,
            _loop=loop,
        )

    async def progress(self, data: Any) -> None:
        """Reports progress (any JSON value) to the server, which may emit it to the submitter."""
        await self._send(self.progress_message(data))

    def progress_threadsafe(self, data: Any) -> None:
        """Same as progress(), callable from a plain (threaded) handler; waits until it is queued."""
        asyncio.run_coroutine_threadsafe(self.progress(data), self._loop).result()

    def progress_message(self, data: Any) -> tasks_pb2.ScrapeTaskRequest:
        """The TaskProgress message for `data` under this task's lease."""
        return tasks_pb2.ScrapeTaskRequest(
            progress=tasks_pb2.TaskProgress(
                task_id=self.id, lease_token=self.lease_token, progress_json=codec.dumps(data)
            )
        )
