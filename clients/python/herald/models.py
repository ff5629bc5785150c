"""Plain dataclasses returned by the clients, built from herald.v1 protobuf messages."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Mapping

from herald import codec
from herald.v1 import event_pb2, herald_pb2, tasks_pb2


class TaskStatus(enum.Enum):
    """Where a task is in its life; the terminal ones are succeeded, failed, cancelled and dead."""

    UNSPECIFIED = "unspecified"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    DEAD = "dead"

    @classmethod
    def from_proto(cls, value: int) -> "TaskStatus":
        """Maps a herald.v1.TaskStatus number (unknown numbers give UNSPECIFIED)."""
        return _FROM_PROTO.get(value, cls.UNSPECIFIED)

    @property
    def terminal(self) -> bool:
        """True when the task will not change any more."""
        return self in _TERMINAL


_FROM_PROTO: dict[int, TaskStatus] = {
    tasks_pb2.TASK_STATUS_QUEUED: TaskStatus.QUEUED,
    tasks_pb2.TASK_STATUS_RUNNING: TaskStatus.RUNNING,
    tasks_pb2.TASK_STATUS_SUCCEEDED: TaskStatus.SUCCEEDED,
    tasks_pb2.TASK_STATUS_FAILED: TaskStatus.FAILED,
    tasks_pb2.TASK_STATUS_CANCELLED: TaskStatus.CANCELLED,
    tasks_pb2.TASK_STATUS_DEAD: TaskStatus.DEAD,
}
_TERMINAL = frozenset({TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.DEAD})


@dataclass(frozen=True)
class Notify:
    """Where a task's completion/failure/progress events are emitted (Socket.IO topic and event names)."""

    topic: str
    completed_event: str = ""
    failed_event: str = ""
    progress_event: str = ""
    namespace: str = "/"

    @classmethod
    def coerce(cls, value: "Notify | Mapping[str, str]") -> "Notify":
        """Accepts a Notify or a dict with the same keys."""
        if isinstance(value, Notify):
            return value
        unknown = set(value) - {"topic", "completed_event", "failed_event", "progress_event", "namespace"}
        if unknown:
            raise ValueError(f"unknown notify keys: {sorted(unknown)}")
        return cls(**value)

    def to_proto(self) -> tasks_pb2.TaskNotify:
        """The protobuf form."""
        return tasks_pb2.TaskNotify(
            namespace=self.namespace,
            topic=self.topic,
            completed_event=self.completed_event,
            failed_event=self.failed_event,
            progress_event=self.progress_event,
        )

    @classmethod
    def from_proto(cls, msg: tasks_pb2.TaskNotify) -> "Notify | None":
        """None when the task has no notify topic."""
        if not msg.topic:
            return None
        return cls(
            topic=msg.topic,
            completed_event=msg.completed_event,
            failed_event=msg.failed_event,
            progress_event=msg.progress_event,
            namespace=msg.namespace or "/",
        )


@dataclass(frozen=True)
class TaskInfo:
    """A task as the server reports it; payload, result and progress are decoded JSON values."""

    id: str
    queue: str
    status: TaskStatus
    payload: Any = None
    attempt: int = 0
    max_attempts: int = 0
    attempt_timeout_ms: int = 0
    result: Any = None
    last_error: str = ""
    idempotency_key: str = ""
    notify: Notify | None = None
    worker: str = ""
    created_ms: int = 0
    updated_ms: int = 0
    progress: Any = None
    # Only set by submit(): False when the idempotency key matched an existing task.
    created: bool | None = None

    @property
    def done(self) -> bool:
        """True once the status is terminal."""
        return self.status.terminal

    @classmethod
    def from_proto(cls, msg: tasks_pb2.Task, created: bool | None = None) -> "TaskInfo":
        """Decodes a herald.v1.Task (JSON fields that fail to parse are kept as raw text)."""
        return cls(
            id=msg.id,
            queue=msg.queue,
            status=TaskStatus.from_proto(msg.status),
            payload=_lenient_json(msg.payload_json),
            attempt=msg.attempt,
            max_attempts=msg.max_attempts,
            attempt_timeout_ms=msg.attempt_timeout_ms,
            result=_lenient_json(msg.result_json),
            last_error=msg.last_error,
            idempotency_key=msg.idempotency_key,
            notify=Notify.from_proto(msg.notify),
            worker=msg.worker,
            created_ms=msg.created_ms,
            updated_ms=msg.updated_ms,
            progress=_lenient_json(msg.progress_json),
            created=created,
        )


def _lenient_json(text: str) -> Any:
    try:
        return codec.loads_or_none(text)
    except ValueError:
        return text


@dataclass(frozen=True)
class AckInfo:
    """One connection's answer to an event emitted with an ack timeout."""

    connection_id: str
    user_id: str
    acked: bool
    args: list[Any] = field(default_factory=list)
    error: str = ""


@dataclass(frozen=True)
class EmitResult:
    """What Emit reports: the event id, how many connections got it, offline users and acks."""

    event_id: str
    connections: int
    offline_users: list[str] = field(default_factory=list)
    acks: list[AckInfo] = field(default_factory=list)

    @classmethod
    def from_proto(cls, msg: herald_pb2.EmitResponse) -> "EmitResult":
        """Decodes a herald.v1.EmitResponse."""
        return cls(
            event_id=msg.event_id,
            connections=msg.connections,
            offline_users=list(msg.offline_users),
            acks=[
                AckInfo(
                    connection_id=a.connection_id,
                    user_id=a.user_id,
                    acked=a.acked,
                    args=[codec.from_arg(x) for x in a.args],
                    error=a.error,
                )
                for a in msg.acks
            ],
        )


@dataclass(frozen=True)
class Event:
    """An event as a Subscribe feed delivers it; a recoverable one has a position in each target topic."""

    id: str
    namespace: str
    name: str
    targets: list[str]
    args: list[Any]
    timestamp_ms: int
    positions: list[Position] = field(default_factory=list)

    @classmethod
    def from_proto(cls, msg: event_pb2.Event) -> "Event":
        """Decodes a herald.v1.Event."""
        return cls(
            id=msg.id,
            namespace=msg.namespace,
            name=msg.name,
            targets=list(msg.targets),
            args=[codec.from_arg(a) for a in msg.args],
            timestamp_ms=msg.timestamp_ms,
            positions=[Position.from_proto(p) for p in msg.positions],
        )


@dataclass(frozen=True)
class Position:
    """Where an event stands in one topic's log: resume after it with `since`."""

    topic: str
    epoch: str
    offset: int

    @classmethod
    def from_proto(cls, msg: event_pb2.Position) -> "Position":
        """Decodes a herald.v1.Position."""
        return cls(topic=msg.topic, epoch=msg.epoch, offset=msg.offset)

    def to_proto(self) -> event_pb2.Position:
        """Encodes it as a herald.v1.Position."""
        return event_pb2.Position(topic=self.topic, epoch=self.epoch, offset=self.offset)


@dataclass(frozen=True)
class NotRecovered:
    """Events of `topic` may be missing (its log was lost, or the position is outside the window): refetch it."""

    topic: str
    reason: str


def task_of_watch(msg: tasks_pb2.WatchTasksResponse) -> TaskInfo:
    """The task carried by one WatchTasks message."""
    return TaskInfo.from_proto(msg.task)


def event_of_subscribe(msg: herald_pb2.SubscribeResponse) -> Event | None:
    """The event carried by one Subscribe message (None for the `subscribed` marker)."""
    if msg.WhichOneof("item") != "event":
        return None
    return Event.from_proto(msg.event)
