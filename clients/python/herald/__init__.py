"""Herald Python client: emit events, submit/watch tasks (Client, AsyncClient) and run task workers (Worker)."""

from herald.aio import AsyncClient
from herald.backoff import Backoff
from herald.client import Client
from herald.connection import DEFAULT_TOKEN, DEFAULT_URL, TLS
from herald.errors import HeraldError, PermanentError, RpcError, WorkerConfigError
from herald.models import AckInfo, EmitResult, Event, NotRecovered, Notify, Position, TaskInfo, TaskStatus
from herald.subscription import AsyncSubscription, Subscription
from herald.task import Task
from herald.worker import Worker

__all__ = [
    "AckInfo",
    "AsyncClient",
    "AsyncSubscription",
    "Backoff",
    "Client",
    "DEFAULT_TOKEN",
    "DEFAULT_URL",
    "TLS",
    "EmitResult",
    "Event",
    "HeraldError",
    "NotRecovered",
    "Notify",
    "PermanentError",
    "Position",
    "RpcError",
    "Subscription",
    "Task",
    "TaskInfo",
    "TaskStatus",
    "Worker",
    "WorkerConfigError",
]
