"""Starts and stops a real `herald serve` process for the e2e tests, parsing its listen addresses."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

CORE_RE = re.compile(r"^herald core listening on (\S+)$")
EDGE_RE = re.compile(r"^herald edge listening on (\S+)$")
START_GUARD = 60.0


def write_config(path: Path, store_url: str, queues: list[str]) -> Path:
    """A config with the dev service token, the given store, and quick retries/heartbeats for tests."""
    quoted = ", ".join(f'"{q}"' for q in queues)
    path.write_text(
        "[core]\n"
        'service_tokens = ["herald-dev-service-token"]\n'
        "[store]\n"
        f'url = "{store_url}"\n'
        "[tasks]\n"
        f"queues = [{quoted}]\n"
        "retry_backoff_ms = 100\n"
        "retry_backoff_max_ms = 1000\n"
        "heartbeat_interval_ms = 1000\n"
    )
    return path


class HeraldProcess:
    """One `herald serve`; restart() comes back on the same ports and store."""

    def __init__(self, binary: Path, config: Path, workdir: Path) -> None:
        self.binary = binary.resolve()
        self.config = config
        self.workdir = workdir
        self.core_addr = ""
        self.edge_addr = ""
        self.proc: subprocess.Popen[str] | None = None
        self.starts = 0

    @property
    def log_path(self) -> Path:
        return self.workdir / f"herald-{self.starts}.log"

    def start(self) -> None:
        """Starts the server (port 0 the first time, the same ports after) and waits for both listen lines."""
        core = self.core_addr or "127.0.0.1:0"
        edge = self.edge_addr or "127.0.0.1:0"
        deadline = time.monotonic() + START_GUARD
        while True:
            if self._try_start(core, edge, deadline):
                return
            if time.monotonic() > deadline or core.endswith(":0"):
                raise RuntimeError(f"herald did not start; log:\n{self.log_tail()}")
            time.sleep(0.5)  # the old port may still be held briefly: try again

    def _try_start(self, core: str, edge: str, deadline: float) -> bool:
        args = ["serve", "--config", str(self.config), "--core-listen", core, "--edge-listen", edge]
        found = self._launch(args, {"core": CORE_RE, "edge": EDGE_RE}, deadline)
        if found is None:
            return False
        self.core_addr, self.edge_addr = found["core"], found["edge"]
        return True

    def _launch(self, args: list[str], patterns: dict[str, re.Pattern[str]], deadline: float) -> dict[str, str] | None:
        """Runs the binary with `args` until every pattern matched a stdout line (their first groups), or
        None when it exited or the deadline passed first (it is then killed)."""
        self.starts += 1
        env = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
        env.setdefault("RUST_LOG", "info")
        log = open(self.log_path, "w", encoding="utf-8")
        self.proc = subprocess.Popen(
            [str(self.binary), *args], stdout=subprocess.PIPE, stderr=log, text=True, cwd=self.workdir, env=env,
        )
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=_pump, args=(self.proc, lines, log), daemon=True).start()
        found: dict[str, str] = {}
        while len(found) < len(patterns):
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                self.kill()
                return None
            for key, pattern in patterns.items():
                m = pattern.match(line.strip())
                if m:
                    found[key] = m.group(1)
        return found

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        """Signals the server and waits for it to exit (SIGKILL after the timeout); returns the exit code."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return proc.returncode if proc else None
        proc.send_signal(sig)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait(10)

    def kill(self) -> None:
        """SIGKILL, no grace."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def restart(self) -> None:
        """SIGTERM, then start again on the same addresses."""
        self.stop()
        self.start()

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"


def _pump(proc: subprocess.Popen[str], lines: "queue.Queue[str | None]", log: object) -> None:
    """Forwards stdout lines (also into the log file) until the process closes it."""
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.put(line)
        log.write("[stdout] " + line)  # type: ignore[attr-defined]
        log.flush()  # type: ignore[attr-defined]
    lines.put(None)
