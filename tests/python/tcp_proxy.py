"""A TCP proxy the test controls: round-robin over backends (a load balancer in front of cores), or one
backend that can be cut off and restored (PostgreSQL becoming unreachable without touching the server)."""

from __future__ import annotations

import asyncio
import itertools
import threading
from concurrent.futures import Future
from typing import Any, Awaitable


class TcpProxy:
    """Listens on 127.0.0.1 (a free port); each accepted connection goes to the next backend that accepts."""

    def __init__(self, backends: list[str]) -> None:
        self.backends = list(backends)
        self._rr = itertools.count()
        self._up = True
        self._pairs: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server = self._call(asyncio.start_server(self._accept, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self.addr = f"127.0.0.1:{self.port}"

    def _call(self, coro: Awaitable[Any]) -> Any:
        fut: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self._loop)  # type: ignore[arg-type]
        return fut.result(30)

    def cut(self) -> None:
        """Drops every open connection and refuses new ones (they are accepted and closed at once)."""

        async def go() -> None:
            self._up = False
            for w in list(self._pairs):
                w.transport.abort()
            self._pairs.clear()

        self._call(go())

    def restore(self) -> None:
        async def go() -> None:
            self._up = True

        self._call(go())

    def close(self) -> None:
        async def go() -> None:
            self._server.close()
            for w in list(self._pairs):
                w.transport.abort()

        self._call(go())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self._up:
            writer.transport.abort()
            return
        upstream = None
        for _ in range(len(self.backends)):
            host, port = self.backends[next(self._rr) % len(self.backends)].rsplit(":", 1)
            try:
                upstream = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 2)
                break
            except (OSError, asyncio.TimeoutError):
                continue
        if upstream is None:
            writer.transport.abort()
            return
        up_reader, up_writer = upstream
        self._pairs.update((writer, up_writer))
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        self._pairs.discard(writer)
        self._pairs.discard(up_writer)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            writer.transport.abort()
