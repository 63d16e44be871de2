"""SIGTERM drains: no new connections, in-flight streams finish, then the process exits."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from proxyctl.procs import fastapi_argv, flask_argv, free_port, start_service, stop_all
from tests.contract.conftest import STACKS, Sim
from tests.contract.sse_client import stream_raw

ARGV = {"flask": flask_argv, "fastapi": fastapi_argv}


@pytest.mark.parametrize("name", STACKS)
def test_sigterm_lets_open_streams_finish(name: str, sim: Sim, proxy_config: Path, tmp_path: Path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {"PROXY_CONFIG": str(proxy_config), "PROXY_DRAIN_TIMEOUT": "20"}
    service = start_service(f"drain-{name}", ARGV[name](port), f"{url}/health", tmp_path, env)
    sim.client.post("/__sim/settings", json={"chunk_gap_ms": 150})
    try:
        result: dict = {}

        def stream() -> None:
            body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "a b c d e f g h i j"}], "stream": True}
            with httpx.Client(base_url=url, headers={"Authorization": "Bearer sim-key"}, timeout=30) as c:
                result["stream"] = stream_raw(c, "/v1/chat/completions", body)

        reader = threading.Thread(target=stream)
        reader.start()
        time.sleep(0.6)  # the stream is under way (12 chunks, 150 ms apart)
        assert service.proc is not None
        service.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{url}/health", timeout=2)
        reader.join(20)
        s = result["stream"]
        assert s.status == 200 and s.data[-1] == "[DONE]"
        assert s.text() == "gpt-4o says: a b c d e f g h i j"
        assert service.proc.wait(20) is not None
    finally:
        sim.client.post("/__sim/settings", json={"chunk_gap_ms": 0})
        stop_all([service])
