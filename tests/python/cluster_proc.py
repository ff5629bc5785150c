"""Several `herald core` processes on one PostgreSQL store and one Redis (a key prefix per test)."""

from __future__ import annotations

import os
import re
import time
import uuid
from pathlib import Path

from server_proc import HeraldProcess, write_config

CORE_RE = re.compile(r"^herald core listening on (\S+)$")
START_GUARD = 60.0


def redis_url() -> str:
    return os.environ.get("HERALD_TEST_REDIS_URL", "redis://127.0.0.1:6379")


def write_cluster_config(path: Path, store_url: str, queues: list[str], attempt_timeout_ms: int) -> Path:
    """The e2e config plus short leases and a `[broker]` of its own Redis key prefix."""
    write_config(path, store_url, queues)
    with path.open("a", encoding="utf-8") as f:
        f.write(
            f"default_attempt_timeout_ms = {attempt_timeout_ms}\n"
            "[broker]\n"
            f'url = "{redis_url()}"\n'
            f'key_prefix = "herald-pytest-{uuid.uuid4().hex[:12]}"\n'
            "heartbeat_ms = 200\n"
            "node_ttl_ms = 1500\n"
        )
    return path


class CoreProcess(HeraldProcess):
    """One `herald core`; start() after a kill comes back on the same address."""

    def __init__(self, binary: Path, config: Path, workdir: Path, name: str) -> None:
        super().__init__(binary, config, workdir)
        self.name = name

    @property
    def addr(self) -> str:
        return self.core_addr

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}-{self.starts}.log"

    def start(self) -> None:
        deadline = time.monotonic() + START_GUARD
        while not self._try_start(self.core_addr or "127.0.0.1:0", deadline):
            if time.monotonic() > deadline or not self.core_addr:
                raise RuntimeError(f"{self.name} did not start; log:\n{self.log_tail()}")
            time.sleep(0.3)  # the old port may still be held briefly: try again

    def _try_start(self, listen: str, deadline: float) -> bool:  # type: ignore[override]
        args = ["core", "--config", str(self.config), "--listen", listen]
        found = self._launch(args, {"core": CORE_RE}, deadline)
        if found is None:
            return False
        self.core_addr = found["core"]
        return True
