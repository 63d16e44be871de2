"""Gateway checks (resource group, content type, routing) and HTTP-level behaviour."""

from __future__ import annotations

import socket

import orjson
from sim_helpers import Sim, user

CHAT = {"messages": [user("hi")]}
INVOKE = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 50, "messages": [user("hi")]}


def test_resource_group_must_match(sim: Sim) -> None:
    resp = sim.post("da-gpt-4o", "chat/completions", CHAT, sim.headers("da-gpt-4o", **{"AI-Resource-Group": "rg-b"}))
    assert resp.status_code == 404
    assert "resource group 'rg-b'" in resp.json()["error"]["message"]
    headers = sim.headers("db-gpt-4o")
    del headers["AI-Resource-Group"]  # a missing header means "default"
    assert sim.post("db-gpt-4o", "chat/completions", CHAT, headers).status_code == 404


def test_content_type_must_be_json(sim: Sim) -> None:
    resp = sim.post("da-gpt-4o", "chat/completions", CHAT, sim.headers("da-gpt-4o", **{"Content-Type": "text/plain"}))
    assert resp.status_code == 415
    headers = sim.headers("da-gpt-4o", **{"Content-Type": "application/json; charset=utf-8"})
    assert sim.post("da-gpt-4o", "chat/completions", CHAT, headers).status_code == 200


def test_unknown_deployment_and_suffixes_are_404(sim: Sim) -> None:
    assert sim.post("da-gpt-4o", "chat/completions", CHAT).status_code == 200
    h = sim.headers("da-gpt-4o")
    assert sim.client.post("/v2/inference/deployments/nope/chat/completions", json=CHAT, headers=h).status_code == 404
    assert sim.post("da-gpt-4o", "embeddings", {"input": "x"}).status_code == 404
    assert sim.post("da-embed-3-small", "chat/completions", CHAT).status_code == 404
    assert sim.post("da-claude-4-sonnet", "chat/completions", INVOKE).status_code == 404
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    assert sim.post("da-gemini-2-5-pro", "models/gemini-2.5-flash:generateContent", body).status_code == 404
    assert sim.post("da-gemini-2-5-pro", "models/gemini-2.5-pro:generateContent", body).status_code == 200
    assert sim.client.get(sim.url("da-gpt-4o", "chat/completions"), headers=h).status_code == 405


def test_every_claude_deployment_serves_all_four_routes(sim: Sim) -> None:
    converse = {"messages": [{"role": "user", "content": [{"text": "hi"}]}]}
    for dep in ("da-claude-4-sonnet", "da-claude-3-7-sonnet", "db-claude-4-sonnet"):
        assert sim.post(dep, "invoke", INVOKE).status_code == 200
        assert sim.post(dep, "invoke-with-response-stream", INVOKE).status_code == 200
        assert sim.post(dep, "converse", converse).status_code == 200
        assert sim.post(dep, "converse-stream", converse).status_code == 200


def test_api_version_is_required_for_openai(sim: Sim) -> None:
    resp = sim.client.post(
        "/v2/inference/deployments/da-gpt-4o/chat/completions", json=CHAT, headers=sim.headers("da-gpt-4o")
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["message"] == "Missing required query parameter: api-version"


def test_invalid_json_is_400(sim: Sim) -> None:
    for dep, suffix in (
        ("da-gpt-4o", "chat/completions"),
        ("da-claude-4-sonnet", "invoke"),
        ("da-gemini-2-5-pro", "models/gemini-2.5-pro:generateContent"),
    ):
        resp = sim.client.post(sim.url(dep, suffix), content=b"{not json", headers=sim.headers(dep))
        assert resp.status_code == 400


def test_chunked_request_body_is_accepted(sim: Sim) -> None:
    def body():
        data = orjson.dumps({"messages": [user("chunked body")]})
        yield data[:10]
        yield data[10:]

    resp = sim.client.post(sim.url("da-gpt-4o", "chat/completions"), content=body(), headers=sim.headers("da-gpt-4o"))
    assert resp.status_code == 200
    assert resp.json()["choices"][0]["message"]["content"] == "gpt-4o says: chunked body"
    assert sim.journal_last()["headers"]["transfer-encoding"] == "chunked"


def test_keep_alive_and_pipelining(sim: Sim) -> None:
    host, port = sim.base.removeprefix("http://").split(":")
    request = f"GET /__sim/health HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(request * 3)
        data = b""
        while data.count(b"HTTP/1.1 200 OK") < 3:
            chunk = sock.recv(65536)
            assert chunk
            data += chunk
        sock.sendall(request)  # the connection is still open
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK")


def test_malformed_http_is_400(sim: Sim) -> None:
    host, port = sim.base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 400")


def test_wrongly_typed_bodies_are_refused_not_crashed(sim: Sim) -> None:
    cases = [
        ("da-gpt-4o", "chat/completions", {"messages": [user("x")], "stop": 5}),
        ("da-gpt-4o", "chat/completions", {"messages": [user("x"), {"role": "assistant", "tool_calls": 1}]}),
        (
            "da-gpt-4o",
            "chat/completions",
            {"messages": [user("x"), {"role": "tool", "tool_call_id": [], "content": ""}]},
        ),
        ("da-claude-4-sonnet", "invoke", {**INVOKE, "messages": [{"role": "user", "content": [{"type": {}}]}]}),
        ("da-claude-4-sonnet", "invoke", {**INVOKE, "stop_sequences": True}),
        (
            "da-claude-4-sonnet",
            "converse",
            {"messages": [{"role": "user", "content": [{"toolResult": {"toolUseId": []}}]}]},
        ),
        ("da-gemini-2-5-pro", "models/gemini-2.5-pro:generateContent", {"contents": [[]]}),
        ("da-embed-3-small", "embeddings", {"input": [[1], "a"]}),
        ("da-gpt-4o", "chat/completions", []),
    ]
    for dep, suffix, body in cases:
        assert sim.post(dep, suffix, body).status_code == 400, (dep, body)


def test_absolute_form_request_targets_are_accepted(sim: Sim) -> None:
    """What an HTTP forward proxy may pass on: ``POST http://host:port/path`` (RFC 9112, 3.2.2)."""
    host, port = sim.base.removeprefix("http://").split(":")
    body = orjson.dumps(CHAT)
    headers = sim.headers("da-gpt-4o")
    lines = [f"POST {sim.base}{sim.url('da-gpt-4o', 'chat/completions')} HTTP/1.1", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()] + ["Connection: close"]
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200 ")
    assert orjson.loads(data.partition(b"\r\n\r\n")[2])["choices"][0]["message"]["content"] == "gpt-4o says: hi"
    entry = sim.journal_last()
    assert entry["path"] == "/v2/inference/deployments/da-gpt-4o/chat/completions"
    assert entry["query"] == {"api-version": "2024-12-01-preview"} and entry["headers"]["host"] == f"{host}:{port}"
