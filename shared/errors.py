"""The proxy's error tree and how each error is rendered for clients.

Every failure a client can see is a :class:`ProxyError`. The core raises them; each
adapter registers one handler that calls :func:`render_error` with the dialect of the
route (OpenAI or Anthropic error JSON). Nothing else decides a status code.

::

    ProxyError                      status, openai type/code, anthropic type
    ├── ClientError                 the caller's fault (4xx)
    │   ├── InvalidRequest          400 bad JSON, wrong or missing fields
    │   ├── Unauthorized            401 missing or wrong API key
    │   ├── NotFound                404 unknown route
    │   ├── ModelNotFound           404 model not configured
    │   ├── MethodNotAllowed        405
    │   ├── PayloadTooLarge         413
    │   └── UnsupportedMediaType    415
    └── UpstreamError               SAP AI Core's side (status passed on or 5xx)
        ├── UpstreamStatusError     upstream answered with an error status
        ├── UpstreamUnavailable     503 connection refused / reset
        ├── UpstreamTimeout         504
        ├── UpstreamProtocolError   502 upstream sent something unreadable
        └── TokenFetchError         503 XSUAA token could not be fetched

``ConfigError`` is separate: it stops start-up and never reaches a client.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from shared.jsonutil import dumps, loads

__all__ = [
    "ClientError",
    "ConfigError",
    "InvalidRequest",
    "MethodNotAllowed",
    "ModelNotFound",
    "NotFound",
    "PayloadTooLarge",
    "ProxyError",
    "TokenFetchError",
    "Unauthorized",
    "UnsupportedMediaType",
    "UpstreamError",
    "UpstreamProtocolError",
    "UpstreamStatusError",
    "UpstreamTimeout",
    "UpstreamUnavailable",
    "render_error",
    "request_shape_errors",
    "stream_broken",
    "transport_error",
    "upstream_error_message",
]

_ANTHROPIC_TYPE_BY_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
}
_OPENAI_TYPE_BY_STATUS = {
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    429: "rate_limit_error",
}


class ConfigError(Exception):
    """The configuration is unusable; the message names the offending field."""


class ProxyError(Exception):
    """Base of every error a client sees. Subclasses set the class attributes."""

    status: int = 500
    code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        self.param = param
        self.headers: dict[str, str] = dict(headers or {})

    @property
    def openai_type(self) -> str:
        if self.status >= 500:
            return "server_error"
        return _OPENAI_TYPE_BY_STATUS.get(self.status, "invalid_request_error")

    @property
    def anthropic_type(self) -> str:
        if self.status in _ANTHROPIC_TYPE_BY_STATUS:
            return _ANTHROPIC_TYPE_BY_STATUS[self.status]
        return "api_error" if self.status >= 500 else "invalid_request_error"


class ClientError(ProxyError):
    status = 400


class InvalidRequest(ClientError):
    status = 400


class Unauthorized(ClientError):
    status = 401
    code = "invalid_api_key"


class NotFound(ClientError):
    status = 404
    code = "not_found"


class ModelNotFound(ClientError):
    status = 404
    code = "model_not_found"


class MethodNotAllowed(ClientError):
    status = 405
    code = "method_not_allowed"


class PayloadTooLarge(ClientError):
    status = 413
    code = "request_too_large"


class UnsupportedMediaType(ClientError):
    status = 415
    code = "unsupported_media_type"


class UpstreamError(ProxyError):
    status = 502
    code = "upstream_error"


class UpstreamStatusError(UpstreamError):
    """SAP AI Core answered with an error status; ``upstream_status`` keeps it."""

    def __init__(self, message: str, *, upstream_status: int, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.upstream_status = upstream_status


class UpstreamUnavailable(UpstreamError):
    status = 503
    code = "upstream_unavailable"


class UpstreamTimeout(UpstreamError):
    status = 504
    code = "upstream_timeout"


class UpstreamProtocolError(UpstreamError):
    status = 502
    code = "upstream_protocol_error"


class TokenFetchError(UpstreamError):
    status = 503
    code = "token_fetch_failed"


@contextmanager
def request_shape_errors() -> Iterator[None]:
    """Around request conversion: a value of a type no converter expected is the client's mistake.

    Converters check the fields they know; this net turns whatever slips through (a list
    where a string was expected, an object where a list was) into a 400 instead of a 500.
    """
    try:
        yield
    except ProxyError:
        raise
    except (TypeError, KeyError, AttributeError, IndexError, ValueError) as exc:
        raise InvalidRequest(f"request body has a field of an unexpected type or shape ({exc})") from exc


def upstream_error_message(body: bytes) -> str:
    """Best-effort human message from an upstream error body of any family.

    Azure: ``{"error": {"message"}}``; Bedrock: ``{"message"}``; Vertex:
    ``{"error": {"message", "status"}}``; XSUAA: ``{"error_description"}``.
    """
    text = body[:2000].decode("utf-8", "replace").strip()
    try:
        doc = loads(body) if body else None
    except ValueError:
        return text or "(empty body)"
    if isinstance(doc, dict):
        err = doc.get("error")
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return str(err["message"])
        for key in ("message", "error_description", "Message"):
            if isinstance(doc.get(key), str):
                return str(doc[key])
        if isinstance(err, str):
            return err
    return text or "(empty body)"


def transport_error(kind: str, where: str) -> UpstreamError:
    """One message per kind of transport failure (``connect_timeout``, ``timeout``, ``connect``,
    anything else), so both stacks say the same thing whatever their client library raised."""
    if kind == "connect_timeout":
        return UpstreamTimeout(f"connecting to {where} timed out")
    if kind == "timeout":
        return UpstreamTimeout(f"{where} did not answer in time")
    if kind == "connect":
        return UpstreamUnavailable(f"could not connect to {where}")
    return UpstreamError(f"call to {where} failed")


def stream_broken(exc: BaseException) -> UpstreamError:
    """What a transport reports when the upstream stream dies after it started."""
    if "timeout" in type(exc).__name__.lower():
        return UpstreamTimeout("the upstream stream went silent for longer than the read timeout")
    return UpstreamError("the upstream stream broke off before the answer was complete")


def render_error(exc: ProxyError, dialect: str) -> tuple[int, dict[str, str], bytes]:
    """Render ``exc`` as (status, headers, JSON body) in the ``openai`` or ``anthropic`` shape."""
    if dialect == "anthropic":
        doc: dict[str, Any] = {"type": "error", "error": {"type": exc.anthropic_type, "message": exc.message}}
    else:
        doc = {"error": {"message": exc.message, "type": exc.openai_type, "param": exc.param, "code": exc.code}}
    headers = {"content-type": "application/json", **exc.headers}
    return exc.status, headers, dumps(doc)
