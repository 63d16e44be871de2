"""Fault injection: scripted failures that the proxy's reliability code must survive.

Faults are kept in the order they were added; each request uses the first fault that
matches it (target, streaming flag, remaining count) and consumes one of its ``times``.
That makes sequences such as "429, then 500, then success" easy to script.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["LISTING_TARGET", "Fault", "FaultBook", "default_error_body"]

_KEYS = frozenset(
    (
        "target",
        "status",
        "retry_after",
        "body",
        "times",
        "stream",
        "delay_headers_ms",
        "delay_first_chunk_ms",
        "cut_after_chunks",
        "malformed_after_chunks",
        "malformed_then",
        "drop_connection",
        "revoke_token",
        "headers",
    )
)
_NO_BODY = object()
# Targets that are endpoints, not deployments: the XSUAA token endpoint and the AI API
# deployment listing (GET /v2/lm/deployments, what a proxy's discovery reads at start-up).
LISTING_TARGET = "listing"
_ENDPOINT_TARGETS = ("token", LISTING_TARGET)

_GRPC = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_BEDROCK = {
    429: "Too many requests, please wait before trying again.",
    500: "The system encountered an unexpected error during processing. Try your request again.",
    503: "Bedrock is unable to process your request.",
    504: "The request timed out. Try your request again.",
}
_VERTEX = {
    429: "Resource exhausted. Please try again later. Please refer to "
    "https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details.",
    500: "Internal error encountered.",
    503: "The model is overloaded. Please try again later.",
    504: "The request timed out. Please try again.",
}


def default_error_body(family: str, status: int) -> Any:
    """A realistic error body for ``status`` as the given upstream (or ``token``) would send it."""
    if family == LISTING_TARGET:
        # AiApiError, the AI API's error shape: {"error": {"code", "message"}} (SAP/ai-sdk-js,
        # packages/ai-api/src/spec/AI_CORE_API.yaml, components.schemas.AiApiError).
        return {"error": {"code": str(status), "message": f"Simulated AI API failure ({status})"}}
    if family == "token":
        if status == 401:
            return {"error": "unauthorized", "error_description": "Bad credentials"}
        return {"error": "server_error", "error_description": f"Simulated XSUAA failure ({status})"}
    if family == "openai":
        if status == 429:
            return {
                "error": {
                    "code": "429",
                    "message": "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version "
                    "2024-12-01-preview have exceeded token rate limit of your current AIServices S0 pricing "
                    "tier. Please retry after 1 second.",
                }
            }
        kind = "server_error" if status >= 500 else "invalid_request_error"
        msg = "The server had an error while processing your request. Sorry about that!"
        if status < 500:
            msg = f"Simulated error {status}."
        return {"error": {"message": msg, "type": kind, "param": None, "code": None}}
    if family == "gemini":
        msg = _VERTEX.get(status, f"Simulated error {status}.")
        return {"error": {"code": status, "message": msg, "status": _GRPC.get(status, "UNKNOWN")}}
    return {"message": _BEDROCK.get(status, f"Simulated error {status}.")}


def _num(payload: dict[str, Any], key: str, integer: bool = False) -> Any:
    value = payload.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"fault.{key} must be a non-negative number")
    if integer and int(value) != value:
        raise ValueError(f"fault.{key} must be an integer")
    return int(value) if integer else float(value)


@dataclass(slots=True)
class Fault:
    """One scripted failure (see docs/simulator.md for the meaning of every field)."""

    id: int
    target: str
    status: int | None = None
    retry_after: float | None = None
    body: Any = _NO_BODY
    times: int | None = None
    stream: bool | None = None
    delay_headers_ms: float = 0.0
    delay_first_chunk_ms: float = 0.0
    cut_after_chunks: int | None = None
    malformed_after_chunks: int | None = None
    malformed_then: str = "continue"
    drop_connection: bool = False
    revoke_token: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    hits: int = 0

    @property
    def has_body(self) -> bool:
        return self.body is not _NO_BODY

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "target": self.target, "remaining": self.times, "hits": self.hits}
        for key in sorted(_KEYS - {"target", "times"}):
            value = getattr(self, key)
            if value is _NO_BODY:
                continue
            out[key] = value
        return out


class FaultBook:
    """The ordered list of faults, with first-match consumption."""

    def __init__(self) -> None:
        self.faults: list[Fault] = []
        self.next_id = 1
        self.active = False

    def add(self, payload: Any, deployments: Any) -> list[Fault]:
        items = payload if isinstance(payload, list) else [payload]
        parsed = [self._parse(item, deployments) for item in items]
        self.faults.extend(parsed)
        self.active = True
        return parsed

    def _parse(self, item: Any, deployments: Any) -> Fault:
        if not isinstance(item, dict):
            raise ValueError("a fault must be an object")
        unknown = set(item) - _KEYS
        if unknown:
            raise ValueError(f"unknown fault keys: {', '.join(sorted(unknown))}")
        target = item.get("target", "*")
        if target not in ("*", *_ENDPOINT_TARGETS) and target not in deployments:
            raise ValueError(f"fault.target must be '*', 'token', 'listing' or a deployment id, not {target!r}")
        status = _num(item, "status", integer=True)
        if status is not None and not 100 <= status <= 599:
            raise ValueError("fault.status must be an HTTP status code")
        stream = item.get("stream")
        if stream is not None and not isinstance(stream, bool):
            raise ValueError("fault.stream must be true, false or null")
        then = item.get("malformed_then", "continue")
        if then not in ("continue", "stop"):
            raise ValueError("fault.malformed_then must be 'continue' or 'stop'")
        headers = item.get("headers") or {}
        if not isinstance(headers, dict) or not all(isinstance(v, str | int | float) for v in headers.values()):
            raise ValueError("fault.headers must be an object of strings")
        fault = Fault(
            id=self.next_id,
            target=target,
            status=status,
            retry_after=_num(item, "retry_after"),
            body=item["body"] if "body" in item else _NO_BODY,
            times=_num(item, "times", integer=True),
            stream=stream,
            delay_headers_ms=_num(item, "delay_headers_ms") or 0.0,
            delay_first_chunk_ms=_num(item, "delay_first_chunk_ms") or 0.0,
            cut_after_chunks=_num(item, "cut_after_chunks", integer=True),
            malformed_after_chunks=_num(item, "malformed_after_chunks", integer=True),
            malformed_then=then,
            drop_connection=bool(item.get("drop_connection", False)),
            revoke_token=bool(item.get("revoke_token", False)),
            headers={str(k): str(v) for k, v in headers.items()},
        )
        # Stream-only effects would be consumed without effect by non-streaming calls.
        if fault.stream is None and (fault.cut_after_chunks is not None or fault.malformed_after_chunks is not None):
            fault.stream = True
        self.next_id += 1
        return fault

    def match(self, target: str | None, stream: bool) -> Fault | None:
        """First live fault for a deployment id, ``None`` (the token endpoint) or ``"listing"``; consumes it."""
        for fault in self.faults:
            if fault.times is not None and fault.times <= 0:
                continue
            if target is None or target == LISTING_TARGET:
                if fault.target != (target or "token"):
                    continue
            elif fault.target in _ENDPOINT_TARGETS or (fault.target != "*" and fault.target != target):
                continue
            elif fault.stream is not None and fault.stream != stream:
                continue
            if fault.times is not None:
                fault.times -= 1
            fault.hits += 1
            return fault
        return None

    def remove(self, fault_id: int) -> bool:
        before = len(self.faults)
        self.faults = [f for f in self.faults if f.id != fault_id]
        self.active = bool(self.faults)
        return len(self.faults) != before

    def clear(self) -> None:
        self.faults.clear()
        self.active = False

    def describe(self) -> list[dict[str, Any]]:
        return [f.describe() for f in self.faults]
