"""API docs that work with no internet: ``/docs`` and ``/redoc`` (FastAPI) and ``/openapi.json`` (both).

The FastAPI stack serves Swagger UI and Redoc from its own ``/docs/assets`` (installed
from the ``fastapi-offline`` PyPI package), never from a CDN. The browser test loads
``/docs`` in headless Chromium with every host but 127.0.0.1 unresolvable and every
other connection sent to a dead proxy, and checks that the operations rendered.
Chromium comes from Debian (``make chromium``; ``CHROMIUM_BIN`` names another binary);
without it only that one test is skipped.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from shared.openapi import openapi_document
from tests.contract.conftest import Stack

ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png")
URL = re.compile(r"""https?://[^\s"'<>)]+""")
OFFLINE_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--hide-scrollbars",
    # The network, blocked: no name but 127.0.0.1 resolves, and anything else that tries
    # to connect goes to a proxy on the discard port, which refuses it.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--proxy-server=127.0.0.1:9",
    "--proxy-bypass-list=127.0.0.1",
    "--window-size=1280,1600",
    "--virtual-time-budget=8000",
)


def _chromium() -> str | None:
    given = os.environ.get("CHROMIUM_BIN")
    if given:
        return given
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _run_chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary, *OFFLINE_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=90,
    )


def test_openapi_json_needs_no_key(stack: Stack) -> None:
    r = httpx.get(f"{stack.url}/openapi.json", timeout=10)
    assert r.status_code == 200, r.text
    assert r.json() == openapi_document()
    assert set(r.json()["components"]["securitySchemes"]) == {"bearerAuth", "apiKeyAuth"}


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_reference_only_local_assets(stack_urls: dict[str, str], page: str) -> None:
    url = stack_urls["fastapi"]
    r = httpx.get(f"{url}{page}", timeout=10)  # no API key
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    remote = [u for u in URL.findall(r.text) if not u.startswith(("http://127.0.0.1", "https://127.0.0.1"))]
    assert remote == [], f"{page} loads from the internet: {remote}"
    assert "/openapi.json" in r.text
    referenced = re.findall(r"""(?:src|href)=["']([^"']+)["']""", r.text)
    assert referenced and all(ref.startswith("/docs/assets/") for ref in referenced), referenced
    for ref in referenced:
        asset = httpx.get(f"{url}{ref}", timeout=10)
        assert asset.status_code == 200 and len(asset.content) > 1000, ref


def test_docs_assets_are_served(stack_urls: dict[str, str]) -> None:
    url = stack_urls["fastapi"]
    for name in ASSETS:
        r = httpx.get(f"{url}/docs/assets/{name}", timeout=10)
        assert r.status_code == 200, name
    assert httpx.get(f"{url}/docs/assets/nope.js", timeout=10).status_code == 404


def test_flask_serves_the_same_document(both: list[Stack]) -> None:
    docs = [httpx.get(f"{s.url}/openapi.json", timeout=10).content for s in both]
    assert docs[0] == docs[1]


def test_swagger_ui_renders_offline_in_a_headless_browser(stack_urls: dict[str, str], tmp_path: Path) -> None:
    binary = _chromium()
    if binary is None:
        pytest.skip("no Chromium installed (`make chromium` installs Debian's; or set CHROMIUM_BIN)")
    url = f"{stack_urls['fastapi']}/docs"
    started = time.monotonic()
    document = openapi_document()
    expected = sum(len(methods) for methods in document["paths"].values())
    # A loaded 2-core CI box can starve the page's scripts past the virtual-time budget:
    # up to three loads, judged on the last (a page that never renders still fails).
    for _ in range(3):
        with tempfile.TemporaryDirectory() as profile:
            dom = _run_chromium(binary, Path(profile), "--dump-dom", url)
        html = dom.stdout
        operations = re.findall(r'class="opblock opblock-(get|post)', html)
        if dom.returncode == 0 and len(operations) == expected:
            break
    assert dom.returncode == 0, dom.stderr[-2000:]
    # Swagger UI built the page from /openapi.json: one opblock per operation, with its path.
    assert len(operations) == expected, html[-3000:]
    for path in ("/v1/chat/completions", "/v1/messages", "/v1/responses", "/v1/models"):
        assert f'data-path="{path}"' in html, path
    assert "btn authorize" in html  # the API-key schemes are declared, so Swagger UI offers Authorize
    assert document["info"]["title"] in html

    shot = tmp_path / "docs.png"
    with tempfile.TemporaryDirectory() as profile:
        snap = _run_chromium(binary, Path(profile), f"--screenshot={shot}", url)
    assert snap.returncode == 0, snap.stderr[-2000:]
    png = shot.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 20_000, len(png)
    assert time.monotonic() - started < 300
