"""Several `herald core` processes on one PostgreSQL store and one Redis (a key prefix per test)."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

CORE_RE = re.compile(r"^herald core listening on (\S+)$")
START_GUARD = 60.0


def redis_url() -> str:
    return os.environ.get("HERALD_TEST_REDIS_URL", "redis://127.0.0.1:6379")


def write_cluster_config(path: Path, store_url: str, queues: list[str], attempt_timeout_ms: int) -> Path:
    """A core config for a cluster test: its own Redis key prefix, short leases, quick retries."""
    quoted = ", ".join(f'"{q}"' for q in queues)
    path.write_text(
        "[core]\n"
        'service_tokens = ["herald-dev-service-token"]\n'
        "[store]\n"
        f'url = "{store_url}"\n'
        "[broker]\n"
        f'url = "{redis_url()}"\n'
        f'key_prefix = "herald-pytest-{uuid.uuid4().hex[:12]}"\n'
        "heartbeat_ms = 200\n"
        "node_ttl_ms = 1500\n"
        "[tasks]\n"
        f"queues = [{quoted}]\n"
        f"default_attempt_timeout_ms = {attempt_timeout_ms}\n"
        "retry_backoff_ms = 50\n"
        "retry_backoff_max_ms = 500\n"
        "heartbeat_interval_ms = 1000\n"
    )
    return path


class CoreProcess:
    """One `herald core`; start() after a kill comes back on the same address."""

    def __init__(self, binary: Path, config: Path, workdir: Path, name: str) -> None:
        self.binary = binary.resolve()
        self.config = config
        self.workdir = workdir
        self.name = name
        self.addr = ""
        self.proc: subprocess.Popen[str] | None = None
        self.starts = 0

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}-{self.starts}.log"

    def start(self) -> None:
        deadline = time.monotonic() + START_GUARD
        while not self._try_start(self.addr or "127.0.0.1:0", deadline):
            if time.monotonic() > deadline or not self.addr:
                raise RuntimeError(f"{self.name} did not start; log:\n{self.log_tail()}")
            time.sleep(0.3)  # the old port may still be held briefly: try again

    def _try_start(self, listen: str, deadline: float) -> bool:
        self.starts += 1
        env = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
        env.setdefault("RUST_LOG", "info")
        log = open(self.log_path, "w", encoding="utf-8")
        self.proc = subprocess.Popen(
            [str(self.binary), "core", "--config", str(self.config), "--listen", listen],
            stdout=subprocess.PIPE, stderr=log, text=True, cwd=self.workdir, env=env,
        )
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=_pump, args=(self.proc, lines, log), daemon=True).start()
        while True:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                self.kill()
                return False
            m = CORE_RE.match(line.strip())
            if m:
                self.addr = m.group(1)
                return True

    def kill(self) -> None:
        """SIGKILL, no grace."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self, timeout: float = 30.0) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"


def _pump(proc: subprocess.Popen[str], lines: "queue.Queue[str | None]", log: object) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.put(line)
        log.write("[stdout] " + line)  # type: ignore[attr-defined]
        log.flush()  # type: ignore[attr-defined]
    lines.put(None)
