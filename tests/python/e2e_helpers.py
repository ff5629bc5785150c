"""Helpers shared by the e2e tests: clients for a server, waiting for tasks, reading worker records."""

from __future__ import annotations

import time
from typing import Any

import grpc

import herald
from server_proc import HeraldProcess
from worker_proc import WorkerProcess


def client_for(proc: HeraldProcess) -> herald.Client:
    return herald.Client(proc.core_addr, timeout=30)


def wait_terminal(client: herald.Client, ids: list[str], timeout: float = 120.0) -> dict[str, herald.TaskInfo]:
    """Polls GetTask until every task is terminal (the timeout is a hang guard); returns the final tasks."""
    final: dict[str, herald.TaskInfo] = {}
    deadline = time.monotonic() + timeout
    pending = list(ids)
    while pending:
        still = []
        for task_id in pending:
            info = client.get(task_id)
            if info.done:
                final[task_id] = info
            else:
                still.append(task_id)
        pending = still
        if pending:
            if time.monotonic() > deadline:
                sample = {i: client.get(i).status.value for i in pending[:5]}
                raise AssertionError(f"{len(pending)} task(s) not finished after {timeout}s, e.g. {sample}")
            time.sleep(0.1)
    return final


def raw_channel(proc: HeraldProcess) -> grpc.Channel:
    return grpc.insecure_channel(proc.core_addr)


def ready_count(workers: list[WorkerProcess]) -> int:
    return sum(1 for w in workers if w.records("ready"))


def any_record(workers: list[WorkerProcess], ev: str, task_id: str) -> bool:
    return any(task_id in w.task_ids(ev) for w in workers)


def describe(workers: list[Any]) -> str:
    return "\n".join(f"--- {w.name}\n{w.log_tail()}" for w in workers)
