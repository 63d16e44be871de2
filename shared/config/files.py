"""Where configuration comes from: the config file, service-key files, and the offline check.

The only module of the core that reads files (``pathlib``, no network). Start-up goes
through ``shared/transports/discovery_http.py``, which reads the file here, parses it
once with :func:`~shared.config.parsing.parse_document`, asks SAP AI Core for the
deployment listing and completes the config with :func:`shared.discovery.complete_config`.
:func:`load_config` and :func:`check_config_file` are the offline paths (tests, ``proxyctl``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.config.parsing import parse_config, parse_document, resolve_names
from shared.config.settings import ProxyConfig
from shared.errors import ConfigError

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "ConfigReport",
    "check_config_file",
    "config_path",
    "load_config",
    "read_config_doc",
    "read_json_file",
]

DEFAULT_CONFIG_PATH = "config.json"


def config_path(env: Mapping[str, str]) -> str:
    """``PROXY_CONFIG`` or ``./config.json``."""
    return env.get("PROXY_CONFIG") or DEFAULT_CONFIG_PATH


def read_config_doc(path: Path) -> Any:
    """The config file's JSON document (raises :class:`ConfigError` naming the file)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{path}: not valid JSON: {exc}") from exc


def read_json_file(path: Path) -> Any:
    """A service-key file's JSON (the ``read_file`` of the parser)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise ConfigError(f"{path}: not valid JSON: {exc}") from exc


def load_config(
    path: str | Path, *, env: Mapping[str, str] | None = None, problems: list[str] | None = None
) -> ProxyConfig:
    """Read and parse ``path`` without deployment discovery; service-key paths are resolved next to it.

    Raises on the first problem, or with ``problems`` given, appends every problem there
    (an unreadable file or invalid JSON still raises: there is nothing to check).
    """
    path = Path(path)
    doc = read_config_doc(path)
    return parse_config(doc, base_dir=path.parent, read_file=read_json_file, env=env, problems=problems)


@dataclass(frozen=True, slots=True)
class ConfigReport:
    """What ``proxyctl check-config`` prints: every problem, and what only start-up can check."""

    config: ProxyConfig | None  # None when there are problems
    problems: list[str] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)


def check_config_file(path: str | Path, env: Mapping[str, str] | None = None) -> ConfigReport:
    """Every problem of the config file at ``path``, offline, and what start-up would still check."""
    path = Path(path)
    try:
        doc = read_config_doc(path)
    except ConfigError as exc:
        return ConfigReport(None, [str(exc)])
    problems: list[str] = []
    unverified: list[str] = []
    parsed = parse_document(doc, base_dir=path.parent, read_file=read_json_file, env=env, problems=problems)
    discovers = parsed.discovery.enabled and any(sub.needs_listing for sub in parsed.sub_accounts)
    config = resolve_names(parsed, problems=problems, unverified=unverified if discovers else None)
    if parsed.discovery.enabled:
        unverified.extend(_listing_checks(config))
    else:
        unverified.append(
            "discovery is disabled: families come from model_settings.family or the model names, "
            "deployment_ids are used unchecked"
        )
    return ConfigReport(None if problems else config, problems, unverified)


def _listing_checks(config: ProxyConfig) -> list[str]:
    """What start-up reads from each sub-account's deployment listing, which no offline check can."""
    out = []
    for sub in config.sub_accounts:
        where = f"sub-account '{sub.name}' (resource group '{sub.resource_group}')"
        checks = []
        if sub.discover:
            checks.append("which deployments it runs (discovered at start-up)")
        if sub.deployment_ids:
            checks.append("that its deployment_ids exist and are running")
        configured = [m for m in sub.deployments if m not in sub.deployment_ids]
        if configured:
            checks.append(
                "the backend model of each configured deployment, which decides its family "
                "(here: from model_settings.family or the name)"
            )
        checks.append("its service key (a token is fetched)")
        out.append(f"{where}: {'; '.join(checks)}")
    return out
