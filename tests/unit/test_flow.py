"""The upstream-call policy, driven with scripted answers (no sockets)."""

import pytest

from shared.balancer import Target
from shared.config import ServiceKey, SubAccount
from shared.errors import UpstreamStatusError
from shared.flows.commands import NeedToken, Send
from shared.flows.upstream import call_upstream, upstream_status_error
from shared.wire import UpstreamResponse
from tests.unit.records import new_record

SUB = SubAccount("acct", "rg-1", ServiceKey("c", "s", "https://auth", identityzoneid="zone"), {"m": ("https://d/1",)})
TARGET = Target(SUB, "https://d/1")


def drive(gen, answers):
    """Run a flow: NeedToken gets 'tok<n>', Send gets the next scripted answer."""
    sent, tokens = [], 0
    try:
        cmd = next(gen)
        while True:
            if isinstance(cmd, NeedToken):
                tokens += 1
                cmd = gen.send(f"tok{tokens}")
            else:
                assert isinstance(cmd, Send)
                sent.append(cmd.request)
                cmd = gen.send(answers.pop(0))
    except StopIteration as stop:
        return stop.value, sent


def test_headers_and_body_on_the_wire():
    resp, sent = drive(
        call_upstream(TARGET, "https://d/1/invoke", b"{}", stream=False, record=new_record()), [UpstreamResponse(200)]
    )
    assert resp.status == 200
    (req,) = sent
    assert req.headers == {
        "Authorization": "Bearer tok1",
        "AI-Resource-Group": "rg-1",
        "Content-Type": "application/json",
        "AI-Tenant-Id": "zone",
        "X-Request-Id": "req-1",  # the request's id goes upstream too
    }
    assert (req.url, req.body, req.stream) == ("https://d/1/invoke", b"{}", False)


@pytest.mark.parametrize("status", [401, 403])
def test_refused_token_is_refreshed_once(status):
    record = new_record()
    gen = call_upstream(TARGET, "u", b"{}", stream=True, record=record)
    cmd = next(gen)
    assert cmd == NeedToken(SUB)
    cmd = gen.send("old")
    assert isinstance(cmd, Send)
    cmd = gen.send(UpstreamResponse(status))
    assert cmd == NeedToken(SUB, stale="old")
    cmd = gen.send("new")
    assert cmd.request.headers["Authorization"] == "Bearer new"
    with pytest.raises(StopIteration):
        gen.send(UpstreamResponse(200))
    assert record.retries == ["auth"] and record.failovers == []  # counted where the flow decided it


def test_second_refusal_is_reported_as_credentials_problem():
    with pytest.raises(UpstreamStatusError, match="refused the proxy's credentials") as info:
        drive(
            call_upstream(TARGET, "u", b"{}", stream=False, record=new_record()),
            [UpstreamResponse(401), UpstreamResponse(401)],
        )
    assert info.value.status == 502


@pytest.mark.parametrize(
    ("upstream", "client"),
    [(400, 400), (413, 413), (422, 422), (429, 429), (404, 502), (500, 502), (502, 502), (503, 503), (504, 504)],
)
def test_status_mapping(upstream, client):
    err = upstream_status_error(UpstreamResponse(upstream, {}, b'{"message": "nope"}'), "deployment d1")
    assert err.status == client and err.upstream_status == upstream
    assert "nope" in err.message and "deployment d1" in err.message


def test_rate_limit_keeps_retry_after():
    err = upstream_status_error(UpstreamResponse(429, {"retry-after": "7"}, b"{}"), "d")
    assert err.headers == {"Retry-After": "7"}
    err = upstream_status_error(UpstreamResponse(429, {"x-retry-after": "3"}, b"{}"), "d")
    assert err.headers == {"Retry-After": "3"}
