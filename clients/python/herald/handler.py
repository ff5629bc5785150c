"""Runs a user handler on a Task and turns its outcome into a TaskResult or TaskFailure message."""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
from typing import Any, Awaitable, Callable, Union

from herald import codec
from herald.errors import PermanentError
from herald.task import Task
from herald.v1 import tasks_pb2

Handler = Callable[[Task], Union[Any, Awaitable[Any]]]
MAX_ERROR_LEN = 4096


def is_async_handler(handler: Handler) -> bool:
    """True for `async def` functions and objects whose __call__ is one."""
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
        getattr(handler, "__call__", None)
    )


async def invoke(handler: Handler, task: Task, executor: concurrent.futures.Executor | None) -> Any:
    """Calls the handler: awaited when async, else run in the executor thread pool."""
    if is_async_handler(handler):
        value = await handler(task)
    else:
        value = await asyncio.get_running_loop().run_in_executor(executor, handler, task)
    if inspect.isawaitable(value):
        value = await value
    return value


def result_message(task: Task, value: Any) -> tasks_pb2.ScrapeTaskRequest:
    """TaskResult with the JSON of `value`; a value that is not JSON-encodable is a permanent failure."""
    try:
        text = codec.dumps(value)
    except (TypeError, ValueError) as err:
        return failure_message(task, f"result is not JSON-encodable: {err}", retryable=False)
    return tasks_pb2.ScrapeTaskRequest(
        result=tasks_pb2.TaskResult(task_id=task.id, lease_token=task.lease_token, result_json=text)
    )


def failure_message(task: Task, error: str, retryable: bool) -> tasks_pb2.ScrapeTaskRequest:
    """TaskFailure under the task's lease (the error text is cut to a sane length)."""
    return tasks_pb2.ScrapeTaskRequest(
        failure=tasks_pb2.TaskFailure(
            task_id=task.id, lease_token=task.lease_token, error=error[:MAX_ERROR_LEN], retryable=retryable
        )
    )


def outcome_message(task: Task, value: Any = None, error: BaseException | None = None) -> tasks_pb2.ScrapeTaskRequest:
    """The message reporting how a handler ended: its value, or the exception it raised."""
    if error is None:
        return result_message(task, value)
    text = str(error) or type(error).__name__
    if isinstance(error, PermanentError):
        return failure_message(task, text, retryable=False)
    return failure_message(task, f"{type(error).__name__}: {text}", retryable=True)
