"""Exceptions raised by the herald package and the one a task handler raises to fail for good."""

from __future__ import annotations

import grpc


class HeraldError(Exception):
    """Base class of every error this package raises."""


class RpcError(HeraldError):
    """A gRPC call to Herald failed; `code` is the grpc.StatusCode and `details` the server's message."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details

    @classmethod
    def from_grpc(cls, err: grpc.RpcError) -> "RpcError":
        """Wraps a grpc.RpcError (sync or aio) raised by a call."""
        code = err.code() if hasattr(err, "code") else grpc.StatusCode.UNKNOWN
        details = err.details() if hasattr(err, "details") else str(err)
        return cls(code or grpc.StatusCode.UNKNOWN, details or "")


class WorkerConfigError(HeraldError):
    """The server refused the worker's session for a reason a reconnect cannot fix (bad queue, bad token)."""


class PermanentError(Exception):
    """Raised by a task handler to fail the task now, without further attempts."""
