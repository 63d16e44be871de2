"""Failover policy, driven with scripted upstream answers and a fake clock."""

from __future__ import annotations

import pytest

from shared.balancer import Target
from shared.config import ServiceKey, SubAccount
from shared.errors import UpstreamError, UpstreamStatusError, UpstreamUnavailable
from shared.flows.commands import Clock, NeedToken, Sleep
from shared.flows.upstream import call_with_failover
from shared.record import RequestRecord
from shared.retry import CircuitBreakers, RetryPolicy, parse_retry_after
from shared.wire import UpstreamResponse
from tests.unit.records import new_record

SUB = SubAccount("a", "rg", ServiceKey("c", "s", "https://auth"), {"m": ("https://d/1", "https://d/2")})
T1, T2 = Target(SUB, "https://d/1"), Target(SUB, "https://d/2")
POLICY = RetryPolicy(max_attempts=4, deadline=30, backoff_base=0.5, backoff_max=4, max_retry_after=10)


class Driver:
    """Answers commands: per-URL scripted results, a clock that sleeps advance."""

    def __init__(self, script: dict[str, list]):
        self.script = script
        self.now = 100.0
        self.sleeps: list[Sleep] = []
        self.sent: list[str] = []

    def run(self, gen):
        value = None
        try:
            cmd = gen.send(None)
            while True:
                if isinstance(cmd, NeedToken):
                    value = "tok"
                elif isinstance(cmd, Clock):
                    value = self.now
                elif isinstance(cmd, Sleep):
                    self.sleeps.append(cmd)
                    self.now += cmd.seconds
                    value = None
                else:
                    url = cmd.request.url.rsplit("/x", 1)[0]
                    self.sent.append(url)
                    result = self.script[url].pop(0)
                    if isinstance(result, Exception):
                        cmd = gen.throw(result)
                        continue
                    value = result
                cmd = gen.send(value)
        except StopIteration as stop:
            return stop.value


def flow(targets=(T1, T2), breakers=None, policy=POLICY, record: RequestRecord | None = None):
    return call_with_failover(
        list(targets),
        "/x",
        b"{}",
        stream=False,
        policy=policy,
        breakers=breakers or CircuitBreakers(),
        record=record or new_record(),
    )


def ok():
    return UpstreamResponse(200, {}, b"{}")


def status(code, **headers):
    return UpstreamResponse(code, headers, b'{"message": "nope"}')


def test_429_on_one_deployment_fails_over_at_once():
    record = new_record()
    d = Driver({T1.url: [status(429, **{"retry-after": "5"})], T2.url: [ok()]})
    target, resp = d.run(flow(record=record))
    assert target == T2 and resp.status == 200
    assert d.sleeps == []
    assert record.retries == record.failovers == ["429"]  # recorded where the flow decided


def test_connection_refused_fails_over():
    record = new_record()
    d = Driver({T1.url: [UpstreamUnavailable("refused")], T2.url: [ok()]})
    assert d.run(flow(record=record))[0] == T2
    assert record.retries == record.failovers == ["connect"]


def test_a_retry_on_the_same_deployment_is_no_failover():
    record = new_record()
    d = Driver({T1.url: [status(503), ok()]})
    target, _ = d.run(flow(targets=(T1,), record=record))
    assert target == T1 and record.retries == ["5xx"] and record.failovers == []


def test_all_rate_limited_waits_retry_after_then_succeeds():
    d = Driver({T1.url: [status(429, **{"retry-after": "2"}), ok()], T2.url: [status(429, **{"retry-after": "2"})]})
    target, _ = d.run(flow())
    assert target == T1 and [s.seconds for s in d.sleeps] == [2.0] and d.sleeps[0].jitter == 0


def test_everything_down_gives_the_real_status_with_retry_after():
    d = Driver({T1.url: [status(429, **{"retry-after": "1"})] * 3, T2.url: [status(429, **{"retry-after": "1"})] * 3})
    with pytest.raises(UpstreamError) as info:
        d.run(flow())
    err = info.value
    assert err.status == 429 and err.headers["Retry-After"] == "1"
    assert "all 4 attempts failed" in err.message and "deployment 1" in err.message
    assert len(d.sent) == 4


def test_long_retry_after_is_not_waited_for():
    d = Driver({T1.url: [status(429, **{"retry-after": "60"})], T2.url: [status(429, **{"retry-after": "60"})]})
    with pytest.raises(UpstreamError) as info:
        d.run(flow())
    assert info.value.status == 429 and d.sleeps == []


def test_backoff_with_jitter_for_5xx():
    d = Driver({T1.url: [status(503), status(503), ok()], T2.url: [status(502), status(502)]})
    target, _ = d.run(flow(policy=RetryPolicy(max_attempts=6, backoff_base=0.5)))
    assert target == T1
    assert [(s.seconds, s.jitter) for s in d.sleeps] == [(0.5, 0.5), (1.0, 0.5)]


def test_client_errors_are_not_retried():
    d = Driver({T1.url: [status(400)], T2.url: [ok()]})
    with pytest.raises(UpstreamStatusError) as info:
        d.run(flow())
    assert info.value.status == 400 and d.sent == [T1.url]


def test_deadline_stops_retrying():
    d = Driver({T1.url: [status(503)] * 9, T2.url: [status(503)] * 9})
    with pytest.raises(UpstreamError):
        d.run(flow(policy=RetryPolicy(max_attempts=50, deadline=3, backoff_base=1, backoff_max=1)))
    assert d.now - 100 <= 3


def test_circuit_breaker_skips_a_failing_deployment():
    breakers = CircuitBreakers(failures=2, cooldown=30)
    for _ in range(2):
        Driver({T1.url: [status(500)], T2.url: [ok()]}).run(flow(breakers=breakers))
    d = Driver({T1.url: [ok()], T2.url: [ok()]})
    assert d.run(flow(breakers=breakers))[0] == T2 and d.sent == [T2.url]
    d.now = 200  # cooldown over
    assert d.run(flow(breakers=breakers))[0] == T1


def test_open_breakers_never_leave_nothing_to_try():
    breakers = CircuitBreakers(failures=1, cooldown=30)
    breakers.record_failure(T1.url, 100)
    breakers.record_failure(T2.url, 100)
    assert breakers.order([T1, T2], 101) == [T1, T2]


@pytest.mark.parametrize(
    ("value", "seconds"), [("3", 3.0), (" 1.5 ", 1.5), ("-1", None), ("Wed, 21 Oct", None), (None, None)]
)
def test_parse_retry_after(value, seconds):
    assert parse_retry_after(value) == seconds
