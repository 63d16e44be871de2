"""A real forward proxy for the tests: Debian's ``tinyproxy`` with a generated config on a free port.

``make test`` installs it (like HAProxy); ``TINYPROXY_BIN`` points at another binary, and
without one the tests that need it are skipped with that hint. tinyproxy logs every
request it handles (``GET http://host:port/path`` for plain HTTP, ``CONNECT host:port``
for a TLS tunnel), and adds a ``Via`` header to the plain-HTTP requests it forwards:
tests count the first against the calls they made and look for the second upstream.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from proxyctl.procs import free_port

__all__ = ["ForwardProxy", "forward_proxy", "tinyproxy_binary"]

_REQUEST_LINE = re.compile(r"Request \(file descriptor \d+\): (\S+) (\S+) HTTP/")


def tinyproxy_binary() -> str:
    found = os.environ.get("TINYPROXY_BIN") or shutil.which("tinyproxy") or "/usr/bin/tinyproxy"
    if not os.access(found, os.X_OK):
        pytest.skip("tinyproxy is not installed (`make test` installs the Debian package; or set TINYPROXY_BIN)")
    return found


@dataclass
class ForwardProxy:
    host: str
    port: int
    log_path: Path
    user: str | None = None
    password: str | None = None

    @property
    def url(self) -> str:
        """The proxy URL as an operator writes it in HTTPS_PROXY, credentials included."""
        auth = f"{self.user}:{self.password}@" if self.user else ""
        return f"http://{auth}{self.host}:{self.port}"

    def requests(self) -> list[tuple[str, str]]:
        """(method, target) of every request tinyproxy has handled so far, oldest first."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return []
        return [(m.group(1), m.group(2)) for m in _REQUEST_LINE.finditer(text)]

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


@contextmanager
def forward_proxy(directory: Path, user: str | None = None, password: str | None = None) -> Iterator[ForwardProxy]:
    """Start tinyproxy on a free loopback port (with Basic auth when ``user`` is given); stop it on exit."""
    binary = tinyproxy_binary()
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    proxy = ForwardProxy("127.0.0.1", port, directory / "tinyproxy.log", user, password)
    lines = [
        f"Port {port}",
        "Listen 127.0.0.1",
        "Timeout 60",
        f'LogFile "{proxy.log_path}"',
        "LogLevel Connect",  # one line per connection and per request
        f'PidFile "{directory / "tinyproxy.pid"}"',
        "MaxClients 200",
        "Allow 127.0.0.1",
    ]  # no ConnectPort line: CONNECT to any port (the test servers' ports are random)
    if user:
        lines.append(f"BasicAuth {user} {password}")
    conf = directory / "tinyproxy.conf"
    conf.write_text("\n".join(lines) + "\n")
    with open(directory / "tinyproxy.out", "wb") as out:
        proc = subprocess.Popen([binary, "-d", "-c", str(conf)], stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"tinyproxy exited: {(directory / 'tinyproxy.out').read_text(errors='replace')}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("tinyproxy did not start listening") from None
                time.sleep(0.05)
        yield proxy
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
