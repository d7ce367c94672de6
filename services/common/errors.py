"""Errors a service answers with a clear 4xx or 5xx instead of a stack trace."""

from __future__ import annotations


class ApiError(Exception):
    """A request that cannot be served, with the status and a message that says how to fix it."""

    def __init__(self, status: int, code: str, message: str, **details):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    def body(self) -> dict:
        doc = {"error": self.code, "message": self.message}
        doc.update(self.details)
        return doc


def bad_request(message: str, **details) -> ApiError:
    return ApiError(400, "bad_request", message, **details)


def unprocessable(code: str, message: str, **details) -> ApiError:
    return ApiError(422, code, message, **details)


def not_found(message: str) -> ApiError:
    return ApiError(404, "not_found", message)


def upstream_failed(peer: str, message: str, status: int = 502) -> ApiError:
    return ApiError(status, "upstream_failed", message, dependency=peer)


class DependencyDown(ApiError):
    """A dependency (postgres, redis, a peer service) refused, dropped or never answered: 503."""

    def __init__(self, peer: str, message: str):
        super().__init__(503, "dependency_unavailable", message, dependency=peer)
        self.peer = peer


class DependencyTimeout(ApiError):
    """A dependency took longer than its timeout: 504."""

    def __init__(self, peer: str, message: str):
        super().__init__(504, "dependency_timeout", message, dependency=peer)
        self.peer = peer
