"""The same request corpus to both stacks gives the same answers (ids and timestamps aside)."""

from __future__ import annotations

import pytest

from proxyctl.parity import DEFAULT_CORPUS, diff, load_corpus, replay
from tests.contract.conftest import API_KEY

CORPUS = load_corpus(DEFAULT_CORPUS)


@pytest.mark.parametrize("request_doc", CORPUS, ids=[r["name"] for r in CORPUS])
def test_both_stacks_answer_alike(stack_urls: dict[str, str], request_doc: dict):
    flask = replay(stack_urls["flask"], API_KEY, request_doc)
    fastapi = replay(stack_urls["fastapi"], API_KEY, request_doc)
    assert diff(flask, fastapi) == []
    assert flask.status < 500
