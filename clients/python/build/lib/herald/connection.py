"""How this package reaches the Herald core: target address normalisation and the auth metadata."""

from __future__ import annotations

import grpc
import grpc.aio

DEFAULT_URL = "127.0.0.1:50051"
DEFAULT_TOKEN = "herald-dev-service-token"

# Small keepalive so a dead peer is noticed by long-lived streams (workers, watches).
_CHANNEL_OPTIONS = [
    ("grpc.keepalive_time_ms", 20_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
]


def normalize_target(url: str) -> str:
    """Accepts "host:port" or "http://host:port[/]" and returns the "host:port" form gRPC wants."""
    target = url.strip()
    for prefix in ("http://", "grpc://"):
        if target.startswith(prefix):
            target = target[len(prefix) :]
    target = target.rstrip("/")
    if not target:
        raise ValueError("empty Herald URL")
    return target


def auth_metadata(token: str) -> tuple[tuple[str, str], ...]:
    """The `authorization: Bearer <token>` metadata every Herald call carries."""
    return (("authorization", f"Bearer {token}"),)


def sync_channel(url: str) -> grpc.Channel:
    """A plaintext blocking channel to the core."""
    return grpc.insecure_channel(normalize_target(url), options=_CHANNEL_OPTIONS)


def aio_channel(url: str) -> grpc.aio.Channel:
    """A plaintext asyncio channel to the core."""
    return grpc.aio.insecure_channel(normalize_target(url), options=_CHANNEL_OPTIONS)
