"""Fixtures of the image tier (``make image-test``): a Debian base from debootstrap, the image built on it.

The public image registry is not reachable here, so the base comes from Debian's packages:
``debootstrap --variant=minbase`` of bookworm with python3 and its venv module, imported into
buildah's storage as ``localhost/aicore-proxy-base:bookworm`` (kept between runs: the next run
starts from the build). The image is built from the repo's Containerfile with that base as
BASE_IMAGE, with ``buildah bud --isolation chroot`` (podman with crun cannot start containers
on these machines; buildah's chroot isolation can), niced: the machine is shared.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.packaging.project import LOCKS, ROOT
from tests.packaging.tools import build_wheel, run

BASE = "localhost/aicore-proxy-base:bookworm"
IMAGE = "localhost/aicore-proxy:image-test"
# python3-venv brings ensurepip; ca-certificates the TLS roots pip needs.
DEBIAN_PACKAGES = "python3,python3-venv,ca-certificates"
# A CA bundle pip needs where the package index is reached through a TLS-intercepting proxy:
# pip's own setting on this host, mounted into the build only (never into the image).
HOST_CA = os.environ.get("PIP_CERT") or ""


def buildah(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return run(["nice", "-n", "10", "buildah", *args], timeout=timeout)


def image_exists(name: str) -> bool:
    return subprocess.run(["buildah", "inspect", "--type", "image", name], capture_output=True).returncode == 0


def debootstrap_base(workdir: Path) -> None:
    """Debian bookworm, minimal, as a buildah image; DEBIAN_MIRROR picks the mirror (default: debootstrap's)."""
    rootfs = workdir / "rootfs"
    mirror = [os.environ["DEBIAN_MIRROR"]] if os.environ.get("DEBIAN_MIRROR") else []
    run(
        ["nice", "-n", "10", "debootstrap", "--variant=minbase", f"--include={DEBIAN_PACKAGES}", "bookworm",
         str(rootfs), *mirror],
        timeout=1200,
    )  # fmt: skip
    for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for item in (rootfs / cache).glob("*"):
            if item.is_file():
                item.unlink()
    tarball = workdir / "rootfs.tar"
    run(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(tarball), "."])
    container = buildah("from", "scratch").stdout.strip()
    try:
        buildah("add", container, str(tarball), "/")
        buildah("config", "--cmd", "/bin/sh", container)
        buildah("commit", "-q", container, BASE)
    finally:
        subprocess.run(["buildah", "rm", container], capture_output=True)
    shutil.rmtree(rootfs, ignore_errors=True)


@pytest.fixture(scope="session")
def image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The built image's name and config (entrypoint, cmd, user, healthcheck, env); removed afterwards."""
    missing = [
        tool for tool in ("buildah", "debootstrap") if shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin") is None
    ]
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed: run `make image-test`, which installs them with apt-get")
    work = tmp_path_factory.mktemp("image")
    if not image_exists(BASE):
        debootstrap_base(work)
    context = work / "context"
    (context / "locks").mkdir(parents=True)
    (context / "dist").mkdir()
    shutil.copy2(ROOT / "Containerfile", context / "Containerfile")
    for lock in ("flask", "fastapi"):
        shutil.copy2(LOCKS / f"{lock}.txt", context / "locks" / f"{lock}.txt")
    wheel = build_wheel(work / "wheel")
    shutil.copy2(wheel, context / "dist" / wheel.name)
    ca = ["-v", f"{HOST_CA}:/run/build-ca.pem:ro", "--build-arg", "PIP_CERT=/run/build-ca.pem"] if HOST_CA else []
    buildah(
        "bud", "--isolation", "chroot", "--network", "host", "--format", "docker",
        "--build-arg", f"BASE_IMAGE={BASE}", *ca, "-t", IMAGE, "-f", str(context / "Containerfile"), str(context),
    )  # fmt: skip
    inspected = json.loads(run(["buildah", "inspect", "--type", "image", IMAGE]).stdout)
    try:
        yield {"name": IMAGE, "config": inspected["Docker"]["config"]}
    finally:  # the base stays for the next run; the image is rebuilt each time (the wheel changes)
        subprocess.run(["buildah", "rmi", IMAGE], capture_output=True)
