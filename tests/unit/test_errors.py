import orjson
import pytest

from shared.errors import (
    InvalidRequest,
    ModelNotFound,
    ProxyError,
    Unauthorized,
    UpstreamStatusError,
    render_error,
    upstream_error_message,
)


@pytest.mark.parametrize(
    ("exc", "status", "otype", "atype"),
    [
        (InvalidRequest("bad", param="messages"), 400, "invalid_request_error", "invalid_request_error"),
        (Unauthorized("no"), 401, "authentication_error", "authentication_error"),
        (ModelNotFound("m"), 404, "invalid_request_error", "not_found_error"),
        (UpstreamStatusError("slow", upstream_status=429, status=429), 429, "rate_limit_error", "rate_limit_error"),
        (ProxyError("boom"), 500, "server_error", "api_error"),
    ],
)
def test_render_both_dialects(exc, status, otype, atype):
    s, headers, body = render_error(exc, "openai")
    doc = orjson.loads(body)
    assert s == status and headers["content-type"] == "application/json"
    assert doc["error"]["type"] == otype and doc["error"]["message"] == exc.message
    assert set(doc["error"]) == {"message", "type", "param", "code"}
    s, _, body = render_error(exc, "anthropic")
    assert orjson.loads(body) == {"type": "error", "error": {"type": atype, "message": exc.message}}


def test_extra_headers_are_rendered():
    _, headers, _ = render_error(ProxyError("x", status=429, headers={"Retry-After": "2"}), "openai")
    assert headers["Retry-After"] == "2"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"error": {"message": "azure says"}}', "azure says"),
        (b'{"message": "bedrock says"}', "bedrock says"),
        (b'{"error": "unauthorized", "error_description": "Bad credentials"}', "Bad credentials"),
        (b"{}", "{}"),
        (b"", "(empty body)"),
        (b"<html>gateway</html>", "<html>gateway</html>"),
    ],
)
def test_upstream_error_message(body, message):
    assert upstream_error_message(body) == message
