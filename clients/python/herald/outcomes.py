"""Outcomes (results and failures) a worker sent and the server has not answered yet: kept across
reconnects and sent again, so a result is not lost when the core or its store is away for a while."""

from __future__ import annotations

from collections import OrderedDict

from herald.v1 import tasks_pb2

MAX_KEPT = 1024

Key = tuple[str, int]


def key_of(msg: tasks_pb2.ScrapeTaskRequest) -> Key | None:
    """(task id, lease token) of a result or failure message, else None."""
    kind = msg.WhichOneof("msg")
    if kind == "result":
        return (msg.result.task_id, msg.result.lease_token)
    if kind == "failure":
        return (msg.failure.task_id, msg.failure.lease_token)
    return None


class Outcomes:
    """Bounded, oldest first: beyond MAX_KEPT the oldest is forgotten (its lease has long run out)."""

    def __init__(self) -> None:
        self._kept: OrderedDict[Key, tasks_pb2.ScrapeTaskRequest] = OrderedDict()

    def keep(self, msg: tasks_pb2.ScrapeTaskRequest) -> None:
        key = key_of(msg)
        if key is None:
            return
        self._kept[key] = msg
        self._kept.move_to_end(key)
        while len(self._kept) > MAX_KEPT:
            self._kept.popitem(last=False)

    def answered(self, task_id: str, lease_token: int) -> None:
        """The server recorded or refused the outcome for good."""
        self._kept.pop((task_id, lease_token), None)

    def get(self, task_id: str, lease_token: int) -> tasks_pb2.ScrapeTaskRequest | None:
        return self._kept.get((task_id, lease_token))

    def pending(self) -> list[tasks_pb2.ScrapeTaskRequest]:
        return list(self._kept.values())

    def __len__(self) -> int:
        return len(self._kept)
