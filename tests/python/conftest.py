"""Fixtures for the e2e tests: a real `herald serve` per test, worker processes, clients, PostgreSQL."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable, Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pg  # noqa: E402
from server_proc import HeraldProcess, write_config  # noqa: E402
from worker_proc import WorkerProcess  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
QUEUES = ["scrape", "push"]


@pytest.fixture(scope="session")
def herald_bin() -> Path:
    path = Path(os.environ.get("HERALD_BIN", REPO / "target" / "debug" / "herald"))
    if not path.is_file():
        pytest.fail(f"herald binary not found at {path}: run `cargo build -p herald-server` or set HERALD_BIN")
    return path


@pytest.fixture(scope="session")
def postgres_ready() -> None:
    reason = pg.unavailable_reason()
    if reason is not None:
        if os.environ.get("HERALD_TEST_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty store of each kind (one new PostgreSQL database per test, dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path / 'herald.db'}"
        return
    request.getfixturevalue("postgres_ready")
    with pg.fresh_database("herald_test") as url:
        yield url


@pytest.fixture
def postgres_db(postgres_ready: None) -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards."""
    with pg.fresh_database("herald_db") as url:
        yield url


def _start(herald_bin: Path, tmp_path: Path, store: str) -> HeraldProcess:
    config = write_config(tmp_path / "herald.toml", store, QUEUES)
    proc = HeraldProcess(herald_bin, config, tmp_path)
    proc.start()
    return proc


@pytest.fixture
def server(herald_bin: Path, tmp_path: Path) -> Iterator[HeraldProcess]:
    """`herald serve` on a fresh SQLite store."""
    proc = _start(herald_bin, tmp_path, f"sqlite://{tmp_path / 'herald.db'}")
    yield proc
    proc.stop()


@pytest.fixture
def server_any_store(herald_bin: Path, tmp_path: Path, store_url: str) -> Iterator[HeraldProcess]:
    """`herald serve` on SQLite and on PostgreSQL (parametrized)."""
    proc = _start(herald_bin, tmp_path, store_url)
    yield proc
    proc.stop()


@pytest.fixture
def spawn_worker(tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Starts record_worker.py processes; all are stopped at teardown."""
    started: list[WorkerProcess] = []

    def spawn(url: str, name: str, concurrency: int = 2, mode: str = "sleep", sleep_ms: int = 20,
              queues: list[str] | None = None) -> WorkerProcess:
        w = WorkerProcess(url, name, tmp_path, queues or ["scrape"], concurrency, mode, sleep_ms)
        started.append(w)
        return w

    yield spawn
    for w in started:
        w.stop(timeout=5)

