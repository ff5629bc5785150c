"""herald.Worker: takes tasks from Herald queues and runs a handler on them, reconnecting as needed."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import signal
import socket
import threading
from typing import Callable, Iterable, Mapping

from herald.backoff import Backoff
from herald.connection import DEFAULT_TOKEN, DEFAULT_URL, TLS, aio_channel, auth_metadata
from herald.handler import Handler, is_async_handler
from herald.outcomes import Outcomes
from herald.session import Session
from herald.v1 import tasks_pb2, tasks_pb2_grpc

log = logging.getLogger("herald.worker")


class Worker:
    """A task worker: `Worker(queues=["scrape"], concurrency=2).run(handler)`.

    The handler gets a herald.Task and returns a JSON-encodable result; raising fails the attempt
    (retried while attempts remain), raising herald.PermanentError fails the task for good.
    `on_connect(worker_id)` is called in the event loop each time the server welcomes a stream.
    """

    def __init__(
        self,
        queues: Iterable[str],
        concurrency: int = 2,
        url: str = DEFAULT_URL,
        token: str = DEFAULT_TOKEN,
        name: str | None = None,
        labels: Mapping[str, str] | None = None,
        grace_period: float = 30.0,
        backoff: Backoff | None = None,
        on_connect: Callable[[str], None] | None = None,
        tls: TLS | None = None,
    ) -> None:
        self._tls = tls
        self.queues = [queues] if isinstance(queues, str) else list(queues)
        if not self.queues:
            raise ValueError("a worker needs at least one queue")
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.concurrency = concurrency
        self.url = url
        self.name = name or f"{socket.gethostname()}-{threading.get_native_id()}"
        self.labels = dict(labels or {})
        self.grace_period = grace_period
        self._token = token
        self._backoff = backoff or Backoff()
        self._on_connect = on_connect
        self._loop: asyncio.AbstractEventLoop | None = None
        self._draining: asyncio.Event | None = None
        self._stop_requested = False
        self._session: Session | None = None
        # Results and failures not answered yet, sent again on the next stream (see herald.outcomes).
        self._outcomes = Outcomes()
        self.max_running = 0

    def hello(self) -> tasks_pb2.WorkerHello:
        """The hello this worker opens each stream with."""
        return tasks_pb2.WorkerHello(
            name=self.name, queues=self.queues, capacity=self.concurrency, labels=self.labels
        )

    def run(self, handler: Handler) -> None:
        """Blocks running the worker until stop(), SIGTERM or SIGINT (a second signal skips the grace period)."""
        asyncio.run(self.run_async(handler, handle_signals=True))

    async def run_async(self, handler: Handler, handle_signals: bool = False) -> None:
        """Runs the worker in the current event loop until stop() (raises WorkerConfigError if refused)."""
        self._loop = asyncio.get_running_loop()
        self._draining = asyncio.Event()
        if self._stop_requested:
            self._draining.set()
        if handle_signals:
            self._install_signals()
        executor = None
        if not is_async_handler(handler):
            executor = concurrent.futures.ThreadPoolExecutor(self.concurrency, thread_name_prefix="herald-task")
        channel = aio_channel(self.url, self._tls)
        try:
            stub = tasks_pb2_grpc.TaskServiceStub(channel)
            while not self._draining.is_set():
                session = Session(
                    stub, auth_metadata(self._token), self.hello(), handler, executor,
                    self._draining, self.grace_period, self._on_connect, self._outcomes,
                )
                self._session = session
                await session.run()
                self.max_running = max(self.max_running, session.max_running)
                if session.welcomed:
                    self._backoff.reset()
                if self._draining.is_set():
                    break
                delay = self._backoff.next_delay()
                log.info("reconnecting in %.2fs", delay)
                try:
                    await asyncio.wait_for(self._draining.wait(), timeout=delay)
                except asyncio.TimeoutError:
                    pass
        finally:
            self._session = None
            await channel.close()
            if executor is not None:
                executor.shutdown(wait=False, cancel_futures=True)
            if handle_signals:
                self._remove_signals()

    def stop(self, grace_period: float | None = None) -> None:
        """Asks the worker to stop taking tasks and finish; safe from any thread or a signal handler."""
        if grace_period is not None:
            self.grace_period = grace_period
        self._stop_requested = True
        loop, draining = self._loop, self._draining
        if loop is None or draining is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            draining.set()
        else:
            loop.call_soon_threadsafe(draining.set)

    @property
    def running(self) -> int:
        """Tasks the current stream holds."""
        return self._session.running if self._session else 0

    def _install_signals(self) -> None:
        loop = self._loop
        if loop is None or threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal)

    def _remove_signals(self) -> None:
        loop = self._loop
        if loop is None or threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)

    def _on_signal(self) -> None:
        if self._stop_requested:
            log.warning("second signal: abandoning running tasks now")
            self.stop(grace_period=0.0)
            self._abandon_now()
            return
        log.info("signal received: draining")
        self.stop()

    def _abandon_now(self) -> None:
        session = self._session
        if session is not None:
            session.abandon()
