"""Health, models, auth and the stack header — both stacks, real processes."""

import httpx
import openai
import pytest

from tests.contract.conftest import Stack


def test_health_needs_no_key_and_names_the_stack(stack: Stack):
    resp = httpx.get(f"{stack.url}/health")
    assert resp.status_code == 200
    assert resp.json()["status"] == "ok"
    assert resp.headers["x-proxy-stack"] == stack.name


def test_models_list_through_the_sdk(stack: Stack):
    client = openai.OpenAI(base_url=f"{stack.url}/v1", api_key=stack.key)
    ids = {m.id for m in client.models.list()}
    assert {"gpt-4o", "anthropic--claude-4-sonnet", "gemini-2.5-pro", "text-embedding-3-small"} <= ids


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Bearer sim-key-plus"}, {"x-api-key": "sim"}],
    ids=["missing", "wrong", "superstring", "substring"],
)
def test_bad_keys_get_401_in_openai_shape(stack: Stack, headers):
    resp = httpx.post(f"{stack.url}/v1/chat/completions", headers=headers, json={"model": "gpt-4o", "messages": []})
    assert resp.status_code == 401
    assert resp.json()["error"]["type"] == "authentication_error"
    assert resp.headers["x-proxy-stack"] == stack.name


def test_x_api_key_header_is_accepted(stack: Stack):
    resp = httpx.get(f"{stack.url}/v1/models", headers={"x-api-key": stack.key})
    assert resp.status_code == 200


def test_sdk_raises_authentication_error(stack: Stack):
    client = openai.OpenAI(base_url=f"{stack.url}/v1", api_key="nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])


def test_unknown_route_and_method(stack: Stack):
    with stack.client() as c:
        r404 = c.get("/v1/nothing-here")
        r405 = c.get("/v1/chat/completions")
    assert r404.status_code == 404 and r404.json()["error"]["code"] == "not_found"
    assert r405.status_code == 405 and r405.json()["error"]["code"] == "method_not_allowed"
    assert r404.headers["x-proxy-stack"] == r405.headers["x-proxy-stack"] == stack.name
