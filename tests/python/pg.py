"""Creates and drops throwaway PostgreSQL databases for the e2e tests with the `psql` CLI."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
from contextlib import contextmanager
from typing import Iterator
from urllib.parse import urlsplit, urlunsplit

DEFAULT_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"


def admin_url() -> str:
    """HERALD_TEST_DATABASE_URL (a database the test user may create databases from)."""
    return os.environ.get("HERALD_TEST_DATABASE_URL", DEFAULT_ADMIN_URL)


def _psql(sql: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["psql", admin_url(), "-v", "ON_ERROR_STOP=1", "-q", "-t", "-c", sql],
        capture_output=True, text=True, timeout=30,
    )


def unavailable_reason() -> str | None:
    """None when psql exists and the server answers; otherwise why PostgreSQL tests cannot run."""
    if shutil.which("psql") is None:
        return "psql is not on PATH"
    try:
        res = _psql("SELECT 1")
    except subprocess.TimeoutExpired:
        return f"PostgreSQL at {admin_url()} did not answer"
    if res.returncode != 0:
        return f"PostgreSQL at {admin_url()} refused: {res.stderr.strip()}"
    return None


def create_database(name: str) -> str:
    """Creates database `name` (a safe identifier) and returns its URL."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"unsafe database name {name!r}")
    res = _psql(f"CREATE DATABASE {name}")
    if res.returncode != 0:
        raise RuntimeError(f"CREATE DATABASE {name} failed: {res.stderr.strip()}")
    parts = urlsplit(admin_url())
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def drop_database(name: str) -> None:
    """Drops the database, disconnecting whoever is still connected."""
    _psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def query(url: str, sql: str) -> list[list[str]]:
    """Rows of `sql` run on the database at `url`, each a list of column texts."""
    res = subprocess.run(
        ["psql", url, "-v", "ON_ERROR_STOP=1", "-q", "-t", "-A", "-F", "\t", "-c", sql],
        capture_output=True, text=True, timeout=30,
    )
    if res.returncode != 0:
        raise RuntimeError(f"query failed: {res.stderr.strip()}")
    return [line.split("\t") for line in res.stdout.splitlines() if line]


_counter = itertools.count()


@contextmanager
def fresh_database(prefix: str) -> Iterator[str]:
    """A new database named after `prefix`, this process and a counter; dropped on exit. Yields its URL."""
    name = f"{prefix}_{os.getpid()}_{next(_counter)}"
    url = create_database(name)
    try:
        yield url
    finally:
        drop_database(name)
