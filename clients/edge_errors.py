"""Errors of the JSON edge as the Python client raises them.

EdgeApiError                  any non-2xx answer: status, code, reason, message, details
 ├── Unauthenticated          401 (no, expired, revoked or displaced session)
 ├── PermissionDenied         403
 ├── NotFound                 404
 ├── Conflict                 409
 └── RateLimited              429 (retry_after seconds from Retry-After)
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "Conflict",
    "EdgeApiError",
    "NotFound",
    "PermissionDenied",
    "RateLimited",
    "Unauthenticated",
]


class EdgeApiError(Exception):
    """A `google.rpc.Status` answer from the edge."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
        self.status = status
        self.body = body
        self.headers = headers
        self.code = int(body.get("code", 0))
        self.message = str(body.get("message", ""))
        self.details: list[dict[str, Any]] = list(body.get("details", []))
        info = next((d for d in self.details if d.get("@type", "").endswith("ErrorInfo")), {})
        self.reason: str = info.get("reason", "")
        self.domain: str = info.get("domain", "")
        self.metadata: dict[str, str] = info.get("metadata", {})
        super().__init__(f"{status} {self.reason or self.code}: {self.message}")


class Unauthenticated(EdgeApiError):
    pass


class PermissionDenied(EdgeApiError):
    pass


class NotFound(EdgeApiError):
    pass


class Conflict(EdgeApiError):
    pass


class RateLimited(EdgeApiError):
    @property
    def retry_after(self) -> int:
        return int(self.headers.get("retry-after", "0") or 0)


_BY_STATUS: dict[int, type[EdgeApiError]] = {
    401: Unauthenticated,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    429: RateLimited,
}


def error_for(status: int, body: dict[str, Any], headers: dict[str, str]) -> EdgeApiError:
    """The exception class for an answer's status."""
    return _BY_STATUS.get(status, EdgeApiError)(status, body, headers)
