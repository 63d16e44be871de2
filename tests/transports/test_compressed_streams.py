"""Both transports ask for ``gzip, deflate`` and decode what comes back, streams included, as it arrives.

A gateway on the way to SAP AI Core may compress event streams. The Flask transport used
to read the raw bytes of a stream, so every compressed stream ended in "the upstream
stream ended without its DONE marker". The fake upstream here compresses event by event
and holds the rest of the stream back until the test has received the first event from
the transport: a transport that buffered, or could only decode at the end, fails.
"""

from __future__ import annotations

import pytest

from shared.wire import ACCEPT_ENCODING
from tests.transports.driving import KINDS, make_core, run, stream_text
from tests.transports.servers import CHAT_PATH, TOKEN_PATH, Upstream, serve

CODINGS = ["identity", "gzip", "deflate", "raw-deflate"]


@pytest.mark.parametrize("coding", CODINGS)
@pytest.mark.parametrize("kind", KINDS)
def test_streams_are_decoded_event_by_event(kind, coding):
    with serve(Upstream(coding=coding)) as up:
        core = make_core(up.url, f"{up.url}/v2/inference/deployments/d1")

        def on_chunk(chunk: bytes) -> None:
            if b'"Hel"' in chunk:
                up.first_event_delivered.set()

        [(status, body)] = run(kind, core, stream=True, on_chunk=on_chunk)
    assert status == 200
    assert stream_text(body) == "Hello, world"
    assert up.waited_for_client is True, "the first event reached the client only after the stream ended"


@pytest.mark.parametrize("coding", CODINGS)
@pytest.mark.parametrize("kind", KINDS)
def test_compressed_json_answers_and_tokens_are_decoded(kind, coding):
    with serve(Upstream(coding=coding)) as up:
        core = make_core(up.url, f"{up.url}/v2/inference/deployments/d1")
        [(status, body)] = run(kind, core)
    assert status == 200, body
    assert b"Hello, world" in body


@pytest.mark.parametrize("kind", KINDS)
def test_both_transports_ask_for_the_same_codings_on_every_call(kind):
    with serve(Upstream(coding="gzip")) as up:
        up.first_event_delivered.set()
        core = make_core(up.url, f"{up.url}/v2/inference/deployments/d1")
        run(kind, core)
        run(kind, core, stream=True)
    paths = [seen["path"] for seen in up.seen]
    assert paths.count(TOKEN_PATH) >= 1 and paths.count(CHAT_PATH) == 2
    assert {seen["headers"].get("accept-encoding") for seen in up.seen} == {ACCEPT_ENCODING}
