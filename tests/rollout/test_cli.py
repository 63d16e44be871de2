"""Bad input: a clear message, a non-zero exit, and the running system untouched."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from proxyctl.procs import free_port
from tests.rollout.helpers import Cluster, ctl

BAD_ARGS = [
    (["rollout", "150"], "'150' is not a percentage"),
    (["rollout", "abc"], "'abc' is not a percentage"),
    (["rollout", "-5"], "is not a percentage"),
    (["rollout", "12.5"], "is not a percentage"),
    (["rollout"], "the following arguments are required: N"),
    (["rollout", "10", "--bogus"], "unrecognized arguments: --bogus"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["promote", "--steps", "50,10"], "give increasing percentages"),
    (["promote", "--steps", "0,50"], "give increasing percentages"),
    (["promote", "--hold", "soon"], "is not a duration"),
    (["promote", "--max-error-rate", "150%"], "is not a rate"),
    (["promote", "--max-latency-ratio", "0.5"], "is not a ratio"),
    (["up", "--fastapi-weight", "101"], "'101' is not a percentage"),
    (["up", "--haproxy-port", "70000"], "is not a TCP port"),
    (["up", "--workers", "0"], "is not a positive whole number"),
    (["status", "--window", "-1"], "must be positive"),
]


@pytest.mark.parametrize(("args", "message"), BAD_ARGS, ids=[" ".join(a) for a, _ in BAD_ARGS])
def test_bad_arguments_are_refused_and_change_nothing(cluster: Cluster, args: list[str], message: str) -> None:
    cluster.rollout(20)
    before = (cluster.run_dir / "rollout.json").read_text(), (cluster.run_dir / "state.json").read_text()
    done = ctl(cluster.run_dir, *args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr
    assert cluster.percent() == 20
    assert ((cluster.run_dir / "rollout.json").read_text(), (cluster.run_dir / "state.json").read_text()) == before


@pytest.mark.parametrize("command", [["rollout", "20"], ["rollback"], ["status"], ["promote"], ["reload"]])
def test_commands_need_something_up(tmp_path: Path, command: list[str]) -> None:
    done = ctl(tmp_path / "empty", *command)
    assert done.returncode == 2
    assert "nothing is up" in done.stderr and "proxyctl up" in done.stderr
    assert not (tmp_path / "empty" / "rollout.json").exists()


def test_down_with_nothing_up_says_so(tmp_path: Path) -> None:
    done = ctl(tmp_path / "empty", "down")
    assert done.returncode == 0 and "nothing is up" in done.stdout


def test_missing_haproxy_binary(tmp_path: Path) -> None:
    done = ctl(
        tmp_path / "x",
        "up",
        "--flask-servers",
        "127.0.0.1:1",
        "--fastapi-servers",
        "127.0.0.1:2",
        env={"HAPROXY_BIN": str(tmp_path / "no-haproxy")},
    )
    assert done.returncode == 2
    assert "HAPROXY_BIN" in done.stderr and "is not an executable file" in done.stderr
    assert not (tmp_path / "x" / "state.json").exists()


def test_haproxy_not_installed_message(monkeypatch: pytest.MonkeyPatch) -> None:
    from proxyctl import haproxy
    from proxyctl.runstate import CliError

    monkeypatch.delenv("HAPROXY_BIN", raising=False)
    monkeypatch.setattr(haproxy.shutil, "which", lambda *a, **k: None)
    with pytest.raises(CliError, match=r"haproxy not found .*apt-get install -y haproxy"):
        haproxy.find_binary()


def test_port_in_use_starts_nothing(cluster: Cluster, tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = ctl(
            tmp_path / "x",
            "up",
            "--flask-servers",
            cluster.flask,
            "--fastapi-servers",
            cluster.fastapi,
            "--haproxy-port",
            str(port),
            "--admin-port",
            str(free_port()),
        )
    assert done.returncode == 2
    assert f"port(s) {port} already in use" in done.stderr
    assert not (tmp_path / "x" / "state.json").exists()


def test_a_second_up_on_the_same_run_dir_is_refused(cluster: Cluster) -> None:
    before = (cluster.run_dir / "state.json").read_text()
    done = ctl(cluster.run_dir, "up", "--detach")
    assert done.returncode == 2 and "already up" in done.stderr
    assert (cluster.run_dir / "state.json").read_text() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--flask-servers", "127.0.0.1:1"], "--flask-servers and --fastapi-servers go together"),
        (["--flask-servers", "nohost", "--fastapi-servers", "127.0.0.1:2"], "'nohost' is not host:port"),
        (["--config", "/no/such/config.json"], "no such file"),
        (["--config", "x.json", "--flask-servers", "a:1", "--fastapi-servers", "b:2"], "none is started"),
    ],
)
def test_bad_up_combinations(tmp_path: Path, args: list[str], message: str) -> None:
    done = ctl(tmp_path / "x", "up", *args)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert not (tmp_path / "x" / "state.json").exists()
