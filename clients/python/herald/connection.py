"""How this package reaches the Herald core: target address normalisation, TLS and the auth metadata."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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
    for prefix in ("http://", "https://", "grpc://"):
        if target.startswith(prefix):
            target = target[len(prefix) :]
    target = target.rstrip("/")
    if not target:
        raise ValueError("empty Herald URL")
    return target


def auth_metadata(token: str) -> tuple[tuple[str, str], ...]:
    """The `authorization: Bearer <token>` metadata every Herald call carries."""
    return (("authorization", f"Bearer {token}"),)


@dataclass(frozen=True)
class TLS:
    """TLS towards a core that serves it: the CA that signed its certificate (None: the system's
    roots), and a client certificate and key (PEM files) for a core that requires mTLS."""

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None

    def credentials(self) -> grpc.ChannelCredentials:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("TLS: give both cert_file and key_file, or neither")
        read = lambda p: Path(p).read_bytes() if p is not None else None  # noqa: E731
        return grpc.ssl_channel_credentials(
            root_certificates=read(self.ca_file),
            private_key=read(self.key_file),
            certificate_chain=read(self.cert_file),
        )


def _tls_for(url: str, tls: TLS | None) -> TLS | None:
    """The TLS settings of a channel: those given, or the system's roots for an https:// URL."""
    if tls is None and url.strip().startswith("https://"):
        return TLS()
    return tls


def sync_channel(url: str, tls: TLS | None = None) -> grpc.Channel:
    """A blocking channel to the core (TLS when `tls` is given or the URL is https://)."""
    tls = _tls_for(url, tls)
    if tls is None:
        return grpc.insecure_channel(normalize_target(url), options=_CHANNEL_OPTIONS)
    return grpc.secure_channel(normalize_target(url), tls.credentials(), options=_CHANNEL_OPTIONS)


def aio_channel(url: str, tls: TLS | None = None) -> grpc.aio.Channel:
    """An asyncio channel to the core (TLS when `tls` is given or the URL is https://)."""
    tls = _tls_for(url, tls)
    if tls is None:
        return grpc.aio.insecure_channel(normalize_target(url), options=_CHANNEL_OPTIONS)
    return grpc.aio.secure_channel(normalize_target(url), tls.credentials(), options=_CHANNEL_OPTIONS)
