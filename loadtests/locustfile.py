"""Locust scenarios for the proxy (either stack, HAProxy in front, or a baseline).

Run headless against any target::

    locust -f loadtests/locustfile.py --headless -H http://127.0.0.1:3000 \\
        -u 50 -r 50 -t 30s --tags chat-stream --api-key sim-key

Scenarios (pick with ``--tags``; without tags all run, weighted like coding-agent traffic):

``chat``             POST /v1/chat/completions, JSON answer (``--chat-model``)
``chat-stream``      the same with ``stream: true``
``messages-stream``  POST /v1/messages, Anthropic event stream (``--messages-model``)
``embeddings``       POST /v1/embeddings (``--embedding-model``)
``models``           GET /v1/models

Locust times a streamed request only until its headers arrive, which says nothing about
an LLM stream. So each stream is read line by line as it arrives and reported as
separate entries (request type ``SSE``): ``<scenario> ttft`` (request start to the first
content token), ``<scenario> total`` (request start to the end of the stream) and
``<scenario> gap`` (the pause before each later content event: if a proxy coalesced
chunks, the gaps would collapse to 0 and the upstream gap multiples). A stream that
ends without its terminator (``[DONE]`` / ``message_stop``), with more than one
``[DONE]``, or with an in-band error counts as a failure.

``--api-key`` (or ``LOCUST_API_KEY``), the models and the target are settable on the
command line or in the environment, so the same file serves ``make bench`` and a load
test of a real deployment.
"""

from __future__ import annotations

import os
import sys
import time

import gevent
import orjson
from locust import FastHttpUser, constant, events, tag, task
from locust.env import Environment
from locust.runners import WorkerRunner

try:
    from loadtests.stream_lines import anthropic_line, openai_line
except ImportError:  # a checkout without `pip install -e .`: the repo root is one level up
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from loadtests.stream_lines import anthropic_line, openai_line

__all__ = ["ProxyUser"]

PROMPT = "Summarise the benefits of connection pooling for an HTTP proxy in one short paragraph."


@events.init_command_line_parser.add_listener
def _options(parser) -> None:  # type: ignore[no-untyped-def]
    parser.add_argument("--api-key", env_var="LOCUST_API_KEY", default="sim-key", help="proxy API key")
    parser.add_argument("--chat-model", env_var="LOCUST_CHAT_MODEL", default="gpt-4o", help="model of chat*")
    parser.add_argument(
        "--messages-model",
        env_var="LOCUST_MESSAGES_MODEL",
        default="anthropic--claude-4-sonnet",
        help="model of messages-stream",
    )
    parser.add_argument(
        "--embedding-model",
        env_var="LOCUST_EMBEDDING_MODEL",
        default="text-embedding-3-small",
        help="model of embeddings",
    )
    parser.add_argument("--max-tokens", type=int, env_var="LOCUST_MAX_TOKENS", default=256, help="max_tokens asked")
    parser.add_argument(
        "--no-gaps",
        action="store_true",
        env_var="LOCUST_NO_GAPS",
        default=False,
        help="do not report inter-chunk gaps (saves load-generator CPU with thousands of streams)",
    )
    parser.add_argument(
        "--warmup",
        type=float,
        env_var="LOCUST_WARMUP",
        default=0.0,
        help="seconds after the start whose requests are dropped from the statistics",
    )
    parser.add_argument(
        "--stop-after",
        type=int,
        env_var="LOCUST_STOP_AFTER",
        default=0,
        help="stop once this many requests (streams count once) were measured after the warm-up",
    )
    parser.add_argument(
        "--samples-file",
        env_var="LOCUST_SAMPLES_FILE",
        default="",
        help="write every measured SSE and request time (ms, unrounded) to this JSON file at the end",
    )


# Unrounded times per entry name: Locust rounds percentiles above 100 ms to 2 digits,
# too coarse for a 5 ms TTFT target on a 500 ms first token, so the locustfile keeps
# them for the benchmark report. Per process: in distributed mode each worker writes
# ``<samples-file>.<pid>``.
SAMPLES: dict[str, list[float]] = {}


@events.request.add_listener
def _record(name, response_time, exception, **_kw) -> None:  # type: ignore[no-untyped-def]
    if exception is None:
        SAMPLES.setdefault(name, []).append(response_time)


def _measured(environment: Environment) -> int:
    """Requests counted so far, streams once (not their derived SSE entries)."""
    return sum(e.num_requests for (_, kind), e in environment.stats.entries.items() if kind != "SSE")


@events.test_start.add_listener
def _start(environment: Environment, **_kw) -> None:  # type: ignore[no-untyped-def]
    """Drop the warm-up from the statistics; stop after ``--stop-after`` measured requests.

    Both run on a local runner and on a master (which sees every worker's statistics);
    workers reset their own samples at the same moment.
    """
    opts = environment.parsed_options
    assert opts is not None  # parsed before any test starts
    SAMPLES.clear()
    coordinator = not isinstance(environment.runner, WorkerRunner)

    def watch() -> None:
        if opts.warmup > 0:
            gevent.sleep(opts.warmup)
            environment.stats.reset_all()
            SAMPLES.clear()
        if opts.stop_after and coordinator and environment.runner is not None:
            while _measured(environment) < opts.stop_after:
                gevent.sleep(0.1)
            environment.runner.quit()

    gevent.spawn(watch)


@events.quitting.add_listener
def _write_samples(environment: Environment, **_kw) -> None:  # type: ignore[no-untyped-def]
    path = environment.parsed_options.samples_file if environment.parsed_options else ""
    if path:
        if isinstance(environment.runner, WorkerRunner):
            path = f"{path}.{os.getpid()}"
        with open(path, "wb") as fh:
            fh.write(orjson.dumps(SAMPLES))


def _fire(user: FastHttpUser, name: str, seconds: float) -> None:
    """One derived SSE measurement (TTFT, a gap) as its own Locust entry."""
    user.environment.events.request.fire(
        request_type="SSE", name=name, response_time=seconds * 1000.0, response_length=0, exception=None, context={}
    )


class StreamError(Exception):
    """A stream that did not end the way its protocol says it must."""


class ProxyUser(FastHttpUser):
    """One client of the proxy: sends the next request as soon as the last one ends."""

    wait_time = constant(0)
    # Generous: the slow-upstream profile holds streams for many seconds.
    network_timeout = 300.0
    connection_timeout = 30.0

    def on_start(self) -> None:
        opts = self.environment.parsed_options
        self.opts = opts
        self.auth = {"Authorization": f"Bearer {opts.api_key}", "Content-Type": "application/json"}
        self.anthropic_headers = {
            "x-api-key": opts.api_key,
            "anthropic-version": "2023-06-01",
            "Content-Type": "application/json",
        }
        messages = [{"role": "user", "content": PROMPT}]
        self.chat_body = orjson.dumps({"model": opts.chat_model, "messages": messages, "max_tokens": opts.max_tokens})
        self.chat_stream_body = orjson.dumps(
            {"model": opts.chat_model, "messages": messages, "max_tokens": opts.max_tokens, "stream": True}
        )
        self.messages_body = orjson.dumps(
            {"model": opts.messages_model, "messages": messages, "max_tokens": opts.max_tokens, "stream": True}
        )
        self.embeddings_body = orjson.dumps({"model": opts.embedding_model, "input": [PROMPT]})

    @tag("chat")
    @task(4)
    def chat(self) -> None:
        with self.client.post(
            "/v1/chat/completions", data=self.chat_body, headers=self.auth, name="chat", catch_response=True
        ) as resp:
            if resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code}: {(resp.text or '')[:200]}")
            elif b'"choices"' not in (resp.content or b""):
                resp.failure("answer without choices")

    @tag("chat-stream")
    @task(4)
    def chat_stream(self) -> None:
        self._stream("chat-stream", "/v1/chat/completions", self.chat_stream_body, self.auth, openai_line)

    @tag("messages-stream")
    @task(2)
    def messages_stream(self) -> None:
        self._stream("messages-stream", "/v1/messages", self.messages_body, self.anthropic_headers, anthropic_line)

    @tag("embeddings")
    @task(1)
    def embeddings(self) -> None:
        with self.client.post(
            "/v1/embeddings", data=self.embeddings_body, headers=self.auth, name="embeddings", catch_response=True
        ) as resp:
            if resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code}: {(resp.text or '')[:200]}")

    @tag("models")
    @task(1)
    def models(self) -> None:
        with self.client.get("/v1/models", headers=self.auth, name="models", catch_response=True) as resp:
            if resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code}")

    def _stream(self, scenario: str, path: str, body: bytes, headers: dict[str, str], classify) -> None:  # type: ignore[no-untyped-def]
        """Send one streaming request and read it event by event as the bytes arrive."""
        started = time.perf_counter()
        gaps = not self.opts.no_gaps
        with self.client.post(
            path, data=body, headers=headers, stream=True, name=f"{scenario} total", catch_response=True
        ) as resp:
            if resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code}")
                return
            raw = resp._response
            first_token_at = 0.0
            last_token_at = 0.0
            ended = 0
            size = 0
            failure: str | None = None
            try:
                while True:
                    line = raw.readline(b"\n")
                    if not line:
                        break
                    size += len(line)
                    kind = classify(line)
                    if kind == "token":
                        now = time.perf_counter()
                        if not first_token_at:
                            first_token_at = now
                            _fire(self, f"{scenario} ttft", now - started)
                        elif gaps:
                            _fire(self, f"{scenario} gap", now - last_token_at)
                        last_token_at = now
                    elif kind == "end":
                        ended += 1
                    elif kind == "error":
                        failure = f"in-band error: {line[:200]!r}"
            except Exception as exc:  # a cut connection, a timeout
                failure = f"stream broken after {size} bytes: {exc!r}"
            if failure is None and ended != 1:
                failure = f"stream ended with {ended} terminators"
            if failure is None and not first_token_at:
                failure = "stream without content"
            resp.request_meta["response_time"] = (time.perf_counter() - started) * 1000.0
            resp.request_meta["response_length"] = size
            if failure is not None:
                resp.failure(StreamError(failure))
            else:
                resp.success()
