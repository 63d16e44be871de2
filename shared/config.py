"""Proxy configuration: the existing proxies' ``config.json`` format, parsed once.

Accepted unchanged from pjq/wl21st: ``subAccounts`` -> ``resource_group``,
``service_key_json`` (a path relative to the config file, or the key object inline),
``deployment_models`` (model name -> list of deployment URLs);
``secret_authentication_tokens``; ``host``; ``port``. The legacy single-account layout
(those keys at top level) becomes a sub-account named ``default``.

Additions, all optional: ``model_settings`` (per model: ``family``, ``claude_api``,
``api_version``, ``upstream_model``, ``max_tokens``), ``allow_unauthenticated`` (an
empty key list refuses to start unless this is true), ``timeouts``,
``max_body_bytes`` (default 32 MiB) and ``fallback_models`` (family -> model used
for unknown names of that family, e.g. Claude Code's dated model names) and
``retry`` (see ``shared/retry.py``); ``model_aliases``, ``strip_model_prefixes`` and
``model_filters`` (see ``shared/model_names.py``).

:func:`parse_config` is pure and validates everything at start-up, naming the field
of the first problem; given a ``problems`` list it collects every problem instead
(``proxyctl check-config``). :func:`load_config` is the only place the core reads files.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from shared.capabilities import parse_capability_overrides
from shared.errors import ConfigError
from shared.model_names import (
    ModelFilters,
    NameTable,
    build_names,
    parse_model_aliases,
    parse_model_filters,
    parse_strip_prefixes,
)
from shared.retry import RetryPolicy

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "ModelSettings",
    "ProxyConfig",
    "ServiceKey",
    "SubAccount",
    "Timeouts",
    "config_path",
    "config_problems",
    "deployment_url",
    "load_config",
    "parse_config",
    "read_config_doc",
    "with_deployments",
]

DEFAULT_CONFIG_PATH = "config.json"
FAMILIES = ("openai", "claude", "gemini")
CLAUDE_APIS = ("invoke", "converse")


@dataclass(frozen=True, slots=True)
class ServiceKey:
    clientid: str
    clientsecret: str
    url: str
    identityzoneid: str | None = None
    api_url: str | None = None

    def __repr__(self) -> str:  # never print the secret
        return f"ServiceKey(clientid={self.clientid!r}, url={self.url!r})"


@dataclass(frozen=True, slots=True)
class SubAccount:
    name: str
    resource_group: str
    service_key: ServiceKey
    deployments: Mapping[str, tuple[str, ...]]
    # Model name -> deployment ids (their URLs are in ``deployments`` too, unchecked
    # until discovery compares them with the listing).
    deployment_ids: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Register every running deployment of the resource group at start-up (see
    # ``shared/discovery.py``): true when the sub-account configures no deployments.
    discover: bool = False

    @property
    def needs_listing(self) -> bool:
        return self.discover or bool(self.deployment_ids)


@dataclass(frozen=True, slots=True)
class ModelSettings:
    family: str | None = None
    claude_api: str = "invoke"
    api_version: str | None = None
    upstream_model: str | None = None
    max_tokens: int | None = None
    # Overrides of the model's capability profile (shared/capabilities.py), by Capabilities field.
    capabilities: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds. ``first_byte``: request sent -> answer (or first stream chunk); ``idle``: between chunks."""

    connect: float = 10.0
    first_byte: float = 300.0
    idle: float = 300.0
    token: float = 15.0
    keepalive: float = 15.0  # SSE comment sent to the client after this much silence


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    sub_accounts: tuple[SubAccount, ...]
    api_keys: tuple[str, ...]
    allow_unauthenticated: bool = False
    host: str = "127.0.0.1"
    port: int = 3001
    model_settings: Mapping[str, ModelSettings] = field(default_factory=dict)
    timeouts: Timeouts = field(default_factory=Timeouts)
    max_body_bytes: int = 32 * 1024 * 1024
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    access_log: bool = True
    fallback_models: Mapping[str, str] = field(default_factory=dict)
    model_aliases: Mapping[str, str] = field(default_factory=dict)
    strip_model_prefixes: tuple[str, ...] = ()
    model_filters: ModelFilters = field(default_factory=ModelFilters)

    def name_table(self, models: Sequence[str] | None = None) -> NameTable:
        """Client names after aliases, stripping and filters (``models``: default the configured ones)."""
        names = self.model_names if models is None else models
        return build_names(names, self.model_aliases, self.strip_model_prefixes, self.model_filters)

    @property
    def model_names(self) -> list[str]:
        """Every model any sub-account serves, in first-seen order."""
        seen: dict[str, None] = {}
        for sub in self.sub_accounts:
            for name in sub.deployments:
                seen.setdefault(name, None)
        return list(seen)


def config_path(env: Mapping[str, str]) -> str:
    """``PROXY_CONFIG`` or ``./config.json``."""
    return env.get("PROXY_CONFIG") or DEFAULT_CONFIG_PATH


def load_config(path: str | Path, *, problems: list[str] | None = None) -> ProxyConfig:
    """Read and parse ``path``; service-key paths are resolved next to it.

    Raises on the first problem, or with ``problems`` given, appends every problem there
    (an unreadable file or invalid JSON still raises: there is nothing to check).
    """
    path = Path(path)
    doc = read_config_doc(path)
    return parse_config(doc, base_dir=path.parent, read_file=_read_json_file, problems=problems)


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
    """Service-key loader for :func:`parse_config` (``read_file``)."""
    return _read_json_file(path)


def deployment_url(api_url: str, deployment_id: str) -> str:
    """The inference URL of a deployment id: ``{AI_API_URL}/v2/inference/deployments/<id>``."""
    return f"{api_url.rstrip('/')}/v2/inference/deployments/{deployment_id}"


def with_deployments(doc: Mapping[str, Any], merged: Mapping[str, Mapping[str, Sequence[str]]]) -> dict[str, Any]:
    """A copy of ``doc`` whose sub-accounts named in ``merged`` list exactly those URLs.

    Used after discovery: their ``deployment_ids`` and ``discover`` are consumed (the URLs
    already include them), so parsing the result validates aliases, filters and fallbacks
    over configured and discovered names alike.
    """
    out = dict(doc)
    if "subAccounts" not in out and "deployment_models" in out:
        legacy = ("service_key_json", "deployment_models", "resource_group")
        out["subAccounts"] = {"default": {k: out.pop(k) for k in legacy if k in out}}
    subs = dict(out.get("subAccounts") or {})
    for name, models in merged.items():
        raw = {k: v for k, v in dict(subs.get(name) or {}).items() if k not in ("deployment_ids", "discover")}
        raw["deployment_models"] = {model: list(urls) for model, urls in models.items()}
        subs[name] = raw
    out["subAccounts"] = subs
    return out


def config_problems(path: str | Path) -> tuple[ProxyConfig | None, list[str]]:
    """Every problem of the config file at ``path`` (empty: valid), and the config when it parses."""
    problems: list[str] = []
    try:
        config = load_config(path, problems=problems)
    except ConfigError as exc:
        return None, [str(exc)]
    return (None if problems else config), problems


_T = TypeVar("_T")


class _Problems:
    """Raises the first ConfigError (start-up) or collects them all (``problems`` list given)."""

    def __init__(self, problems: list[str] | None) -> None:
        self.problems = problems

    def add(self, exc: ConfigError) -> None:
        if self.problems is None:
            raise exc
        self.problems.append(str(exc))

    def check(self, fn: Callable[[], _T], default: _T) -> _T:
        try:
            return fn()
        except ConfigError as exc:
            self.add(exc)
            return default


def _read_json_file(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise ConfigError(f"{path}: not valid JSON: {exc}") from exc


def parse_config(
    doc: Any, *, base_dir: Path = Path("."), read_file: Any = None, problems: list[str] | None = None
) -> ProxyConfig:
    """Validate a config document. ``read_file(path)`` loads service-key files (None: inline keys only).

    Raises :class:`ConfigError` on the first problem; with ``problems`` given, appends every
    problem's message there and returns a config in which the faulty parts have defaults.
    """
    p = _Problems(problems)
    if not isinstance(doc, dict):
        p.add(ConfigError("config: the top level must be a JSON object"))
        doc = {}
    raw_subs = doc.get("subAccounts")
    if raw_subs is None and ("deployment_models" in doc or "deployment_ids" in doc):
        raw_subs = {
            "default": {
                k: doc[k]
                for k in ("service_key_json", "deployment_models", "deployment_ids", "resource_group")
                if k in doc
            }
        }
    subs: tuple[SubAccount, ...] = ()
    if not isinstance(raw_subs, dict) or not raw_subs:
        p.add(ConfigError("subAccounts: must be an object with at least one sub-account"))
    else:
        found = [_sub_account(name, raw, base_dir, read_file, p) for name, raw in raw_subs.items()]
        subs = tuple(s for s in found if s is not None)

    keys: list[str] = p.check(lambda: _keys(doc), [])
    allow_open = p.check(lambda: _bool(doc, "allow_unauthenticated", False), False)
    if not keys and not allow_open and "secret_authentication_tokens" not in _failed(problems):
        p.add(
            ConfigError(
                "secret_authentication_tokens: the list is empty, so any client could use the proxy; "
                'add keys, or set "allow_unauthenticated": true to run without client authentication'
            )
        )
    host = p.check(lambda: _host(doc), "127.0.0.1")
    port = p.check(lambda: _port(doc), 3001)
    max_body = p.check(lambda: _max_body(doc), 32 * 1024 * 1024)
    models = [name for sub in subs for name in sub.deployments]
    aliases: dict[str, str] = p.check(lambda: parse_model_aliases(doc.get("model_aliases", {})), {})
    prefixes: tuple[str, ...] = p.check(lambda: parse_strip_prefixes(doc.get("strip_model_prefixes", [])), ())
    filters = p.check(lambda: parse_model_filters(doc.get("model_filters", {})), ModelFilters())
    table = build_names(models, aliases, prefixes, filters, on_problem=p.add)
    fallbacks: dict[str, str] = p.check(lambda: _fallbacks(doc, set(models), table), {})
    return ProxyConfig(
        sub_accounts=subs,
        api_keys=tuple(keys),
        allow_unauthenticated=allow_open,
        host=host,
        port=port,
        model_settings=p.check(lambda: _model_settings(doc.get("model_settings", {}), p), {}),
        timeouts=p.check(lambda: _timeouts(doc.get("timeouts", {})), Timeouts()),
        max_body_bytes=max_body,
        retry=p.check(lambda: _retry(doc.get("retry", {})), RetryPolicy()),
        access_log=p.check(lambda: _bool(doc, "access_log", True), True),
        fallback_models=fallbacks,
        model_aliases=table.aliases,
        strip_model_prefixes=prefixes,
        model_filters=filters,
    )


def _failed(problems: list[str] | None) -> set[str]:
    """Fields that already have a problem (so one cause is reported once)."""
    return {msg.split(":", 1)[0] for msg in problems or []}


def _keys(doc: Mapping[str, Any]) -> list[str]:
    keys = doc.get("secret_authentication_tokens", [])
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise ConfigError("secret_authentication_tokens: must be a list of strings")
    if any(not k for k in keys):
        raise ConfigError("secret_authentication_tokens: empty strings are not allowed (they would admit anyone)")
    return keys


def _host(doc: Mapping[str, Any]) -> str:
    host = doc.get("host", "127.0.0.1")
    if not isinstance(host, str) or not host:
        raise ConfigError("host: must be a non-empty string")
    return host


def _port(doc: Mapping[str, Any]) -> int:
    port = doc.get("port", 3001)
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise ConfigError("port: must be an integer between 1 and 65535")
    return port


def _max_body(doc: Mapping[str, Any]) -> int:
    max_body = doc.get("max_body_bytes", 32 * 1024 * 1024)
    if not isinstance(max_body, int) or isinstance(max_body, bool) or max_body < 1024:
        raise ConfigError("max_body_bytes: must be an integer of at least 1024")
    return max_body


def _fallbacks(doc: Mapping[str, Any], known: set[str], table: NameTable) -> dict[str, str]:
    fallbacks = doc.get("fallback_models", {})
    if not isinstance(fallbacks, dict):
        raise ConfigError("fallback_models: must map a family (openai, claude, gemini) to a configured model")
    for family, target in fallbacks.items():
        if family not in FAMILIES:
            raise ConfigError(f"fallback_models.{family}: unknown family; use one of {', '.join(FAMILIES)}")
        if target not in known:
            raise ConfigError(f"fallback_models.{family}: '{target}' is not a configured model")
        if target not in table.accepted:
            raise ConfigError(f"fallback_models.{family}: '{target}' is removed by model_filters")
    return dict(fallbacks)


def _bool(doc: Mapping[str, Any], key: str, default: bool) -> bool:
    value = doc.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{key}: must be true or false")
    return value


def _sub_account(name: str, raw: Any, base_dir: Path, read_file: Any, p: _Problems) -> SubAccount | None:
    where = f"subAccounts.{name}"
    if not isinstance(raw, dict):
        p.add(ConfigError(f"{where}: must be an object"))
        return None
    ok = True
    rg = raw.get("resource_group", "default")
    if not isinstance(rg, str) or not rg:
        p.add(ConfigError(f"{where}.resource_group: must be a non-empty string"))
        ok = False
    service_key = p.check(lambda: _load_service_key(raw.get("service_key_json"), where, base_dir, read_file), None)
    models = raw.get("deployment_models", {})
    if not isinstance(models, dict):
        p.add(ConfigError(f"{where}.deployment_models: must map model names to lists of deployment URLs"))
        return None
    deployments: dict[str, tuple[str, ...]] = {}
    for model, urls in models.items():
        found = p.check(partial(_deployment_urls, f"{where}.deployment_models.{model}", urls), None)
        if found is not None:
            deployments[model] = found
    ids: dict[str, tuple[str, ...]] = p.check(lambda: _deployment_ids(where, raw.get("deployment_ids", {})), {})
    discover = p.check(lambda: _bool(raw, "discover", not models and "deployment_ids" not in raw), False)
    if (ids or discover) and service_key is not None and not service_key.api_url:
        p.add(
            ConfigError(
                f"{where}.service_key_json.serviceurls.AI_API_URL: required for deployment_ids and discovery "
                "(copy the whole service key from the SAP BTP cockpit)"
            )
        )
        ok = False
    if not ok or service_key is None or (models and not deployments):
        return None
    for model, id_list in ids.items():
        extra = [deployment_url(service_key.api_url or "", i) for i in id_list]
        deployments[model] = tuple(dict.fromkeys([*deployments.get(model, ()), *extra]))
    return SubAccount(
        name=name,
        resource_group=rg,
        service_key=service_key,
        deployments=deployments,
        deployment_ids=ids,
        discover=discover,
    )


def _deployment_ids(where: str, raw: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}.deployment_ids: must map model names to lists of deployment ids")
    out: dict[str, tuple[str, ...]] = {}
    for model, ids in raw.items():
        if isinstance(ids, str):
            ids = [ids]
        if not isinstance(ids, list) or not ids:
            raise ConfigError(f"{where}.deployment_ids.{model}: must be a non-empty list of deployment ids")
        for i, dep_id in enumerate(ids):
            if not isinstance(dep_id, str) or not dep_id or "/" in dep_id:
                raise ConfigError(f"{where}.deployment_ids.{model}[{i}]: must be a deployment id (no slashes)")
        out[model] = tuple(dict.fromkeys(ids))
    return out


def _load_service_key(key_doc: Any, where: str, base_dir: Path, read_file: Any) -> ServiceKey:
    if isinstance(key_doc, str):
        if read_file is None:
            raise ConfigError(f"{where}.service_key_json: file paths need load_config()")
        key_path = Path(key_doc) if Path(key_doc).is_absolute() else base_dir / key_doc
        try:
            key_doc = read_file(key_path)
        except ConfigError as exc:
            raise ConfigError(f"{where}.service_key_json: {exc}") from exc
    return _service_key(key_doc, f"{where}.service_key_json")


def _deployment_urls(where: str, urls: Any) -> tuple[str, ...]:
    if isinstance(urls, str):
        urls = [urls]
    if not isinstance(urls, list) or not urls:
        raise ConfigError(f"{where}: must be a non-empty list of URLs")
    for i, url in enumerate(urls):
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ConfigError(f"{where}[{i}]: must be an http(s) URL")
    return tuple(u.rstrip("/") for u in urls)


def _service_key(doc: Any, where: str) -> ServiceKey:
    if not isinstance(doc, dict):
        raise ConfigError(f"{where}: must be a path to a service-key JSON file or the key object itself")
    for key in ("clientid", "clientsecret", "url"):
        if not isinstance(doc.get(key), str) or not doc[key]:
            raise ConfigError(f"{where}.{key}: missing (copy the service key from the SAP BTP cockpit)")
    urls = doc.get("serviceurls")
    api_url = urls.get("AI_API_URL") if isinstance(urls, dict) else None
    return ServiceKey(
        clientid=doc["clientid"],
        clientsecret=doc["clientsecret"],
        url=doc["url"].rstrip("/"),
        identityzoneid=doc.get("identityzoneid") if isinstance(doc.get("identityzoneid"), str) else None,
        api_url=api_url.rstrip("/") if isinstance(api_url, str) else None,
    )


def _model_settings(raw: Any, p: _Problems) -> dict[str, ModelSettings]:
    if not isinstance(raw, dict):
        raise ConfigError("model_settings: must be an object keyed by model name")
    out: dict[str, ModelSettings] = {}
    for name, entry in raw.items():
        settings = p.check(partial(_one_model_settings, f"model_settings.{name}", entry), None)
        if settings is not None:
            out[name] = settings
    return out


def _one_model_settings(where: str, entry: Any) -> ModelSettings:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: must be an object")
    unknown = set(entry) - {"family", "claude_api", "api_version", "upstream_model", "max_tokens", "capabilities"}
    if unknown:
        raise ConfigError(f"{where}.{sorted(unknown)[0]}: unknown setting")
    family = entry.get("family")
    if family is not None and family not in FAMILIES:
        raise ConfigError(f"{where}.family: must be one of {', '.join(FAMILIES)}")
    claude_api = entry.get("claude_api", "invoke")
    if claude_api not in CLAUDE_APIS:
        raise ConfigError(f"{where}.claude_api: must be 'invoke' or 'converse'")
    for key in ("api_version", "upstream_model"):
        if entry.get(key) is not None and not isinstance(entry[key], str):
            raise ConfigError(f"{where}.{key}: must be a string")
    max_tokens = entry.get("max_tokens")
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
        raise ConfigError(f"{where}.max_tokens: must be a positive integer")
    caps = entry.get("capabilities")
    overrides = parse_capability_overrides(caps, f"{where}.capabilities") if caps is not None else None
    return ModelSettings(
        family, claude_api, entry.get("api_version"), entry.get("upstream_model"), max_tokens, overrides
    )


def _timeouts(raw: Any) -> Timeouts:
    if not isinstance(raw, dict):
        raise ConfigError("timeouts: must be an object")
    values: dict[str, float] = {}
    for key in raw:
        if key not in ("connect", "first_byte", "idle", "token", "keepalive"):
            raise ConfigError(f"timeouts.{key}: unknown timeout (connect, first_byte, idle, token, keepalive)")
    for key in ("connect", "first_byte", "idle", "token", "keepalive"):
        if key in raw:
            v = raw[key]
            if not isinstance(v, int | float) or isinstance(v, bool) or v <= 0:
                raise ConfigError(f"timeouts.{key}: must be a positive number of seconds")
            values[key] = float(v)
    return Timeouts(**values)


def _retry(raw: Any) -> RetryPolicy:
    if not isinstance(raw, dict):
        raise ConfigError("retry: must be an object")
    defaults = RetryPolicy()
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if not hasattr(defaults, key):
            raise ConfigError(f"retry.{key}: unknown setting")
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"retry.{key}: must be a non-negative number")
        values[key] = int(value) if key in ("max_attempts", "breaker_failures") else float(value)
    if values.get("max_attempts", 1) < 1:
        raise ConfigError("retry.max_attempts: must be at least 1")
    return RetryPolicy(**values)
