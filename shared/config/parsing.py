"""From a ``config.json`` document to :class:`~shared.config.settings.ProxyConfig`: pure, strict, kind.

Two steps, so start-up parses the document once even when deployment discovery adds
models in between (``shared/discovery.py``):

1. :func:`parse_document` checks the document's shape — every key at every level
   (``shared/config/keys.py``), every value — after :func:`normalise_layout`, the one
   place the legacy single-account layout becomes a sub-account named ``default``.
2. :func:`resolve_names` checks what depends on the final set of models: aliases,
   stripped prefixes, filters and fallback targets.

:func:`parse_config` does both, for a config whose models are all in the file. Each
function raises :class:`ConfigError` on the first problem or, given a ``problems``
list, collects every problem's message there (``proxyctl check-config``). Files are
read through the ``read_file`` callable and the environment is passed in (``env``),
so nothing here does I/O.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from shared.capabilities import parse_capability_overrides
from shared.config.environment import (
    SDK_SERVICE_KEY_ENV,
    SERVICE_KEY_ENV_PREFIX,
    api_keys_from_env,
    service_key_env_var,
)
from shared.config.keys import (
    DISCOVERY_KEYS,
    LEGACY_KEYS,
    MODEL_FILTER_KEYS,
    MODEL_SETTINGS_KEYS,
    RETRY_KEYS,
    SUB_ACCOUNT_KEYS,
    TIMEOUT_KEYS,
    TOP_LEVEL_KEYS,
    suggestion,
    unknown_keys,
)
from shared.config.settings import (
    CLAUDE_APIS,
    DEFAULT_CACHE_DIR,
    DEFAULT_TTL,
    FAMILIES,
    DiscoverySettings,
    ModelSettings,
    ProxyConfig,
    RetryPolicy,
    ServiceKey,
    SubAccount,
    Timeouts,
    deployment_url,
)
from shared.errors import ConfigError
from shared.model_names import (
    ModelFilters,
    build_names,
    parse_model_aliases,
    parse_model_filters,
    parse_strip_prefixes,
)

__all__ = [
    "LEGACY_SUB_ACCOUNT",
    "ReadFile",
    "normalise_layout",
    "parse_config",
    "parse_document",
    "resolve_names",
]

LEGACY_SUB_ACCOUNT = "default"
ReadFile = Callable[[Path], Any]
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

    def failed(self, field: str) -> bool:
        """Whether ``field`` already has a problem (so one cause is reported once)."""
        return any(msg.split(":", 1)[0] == field for msg in self.problems or [])


def _path(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def normalise_layout(doc: Mapping[str, Any]) -> tuple[dict[str, Any], bool, list[ConfigError]]:
    """The document with pjq's single-account layout moved into ``subAccounts.default``.

    The one normaliser: ``service_key_json``, ``deployment_models``, ``deployment_ids``
    and ``resource_group`` at the top level, without ``subAccounts``, are one sub-account
    (the flag says so, so that messages keep naming those keys as the file has them).
    Beside ``subAccounts`` they are a mistake: which sub-account would they belong to?
    """
    out = dict(doc)
    legacy = [key for key in LEGACY_KEYS if key in out]
    if not legacy:
        return out, False, []
    if "subAccounts" in out:
        return (
            out,
            False,
            [
                ConfigError(
                    f"{key}: belongs inside a sub-account when subAccounts is given "
                    "(only the single-account layout, without subAccounts, has it at the top level)"
                )
                for key in legacy
            ],
        )
    out["subAccounts"] = {LEGACY_SUB_ACCOUNT: {key: out.pop(key) for key in legacy}}
    return out, True, []


def parse_config(
    doc: Any,
    *,
    base_dir: Path = Path("."),
    read_file: ReadFile | None = None,
    env: Mapping[str, str] | None = None,
    problems: list[str] | None = None,
) -> ProxyConfig:
    """:func:`parse_document` then :func:`resolve_names`: a config whose models are all in the file."""
    config = parse_document(doc, base_dir=base_dir, read_file=read_file, env=env, problems=problems)
    return resolve_names(config, problems=problems)


def parse_document(
    doc: Any,
    *,
    base_dir: Path = Path("."),
    read_file: ReadFile | None = None,
    env: Mapping[str, str] | None = None,
    problems: list[str] | None = None,
) -> ProxyConfig:
    """Validate a config document's shape and values; names are checked by :func:`resolve_names`.

    ``read_file(path)`` loads service-key files (None: inline keys only); ``env`` supplies
    ``AICORE_SERVICE_KEY_<SUBACCOUNT>`` and ``PROXY_API_KEYS`` (None: no environment).
    Raises :class:`ConfigError` on the first problem; with ``problems`` given, appends every
    problem's message there and returns a config in which the faulty parts have defaults.
    """
    p = _Problems(problems)
    env = env or {}
    if not isinstance(doc, dict):
        p.add(ConfigError("config: the top level must be a JSON object"))
        doc = {}
    for exc in unknown_keys("", doc, TOP_LEVEL_KEYS):
        p.add(exc)
    doc, legacy, layout_problems = normalise_layout(doc)
    for exc in layout_problems:
        p.add(exc)
    notices: list[str] = []
    raw_subs = doc.get("subAccounts")
    subs: tuple[SubAccount, ...] = ()
    if not isinstance(raw_subs, dict) or not raw_subs:
        p.add(ConfigError("subAccounts: must be an object with at least one sub-account"))
    else:
        reader = _Reader(base_dir, read_file, env, notices, single=len(raw_subs) == 1)
        found = [
            _sub_account(name, raw, "" if legacy else f"subAccounts.{name}", reader, p)
            for name, raw in raw_subs.items()
        ]
        subs = tuple(s for s in found if s is not None)
        p.check(lambda: _env_service_keys(env, list(raw_subs), notices), None)

    file_keys: list[str] = p.check(lambda: _api_keys(doc), [])
    keys = list(dict.fromkeys([*file_keys, *api_keys_from_env(env)]))
    allow_open = p.check(lambda: _bool(doc, "allow_unauthenticated", False), False)
    if not keys and not allow_open and not p.failed("secret_authentication_tokens"):
        p.add(
            ConfigError(
                "secret_authentication_tokens: the list is empty, so any client could use the proxy; "
                'add keys (or set PROXY_API_KEYS), or set "allow_unauthenticated": true to run without '
                "client authentication"
            )
        )
    return ProxyConfig(
        sub_accounts=subs,
        api_keys=tuple(keys),
        allow_unauthenticated=allow_open,
        host=p.check(lambda: _host(doc), "127.0.0.1"),
        port=p.check(lambda: _port(doc), 3001),
        max_body_bytes=p.check(lambda: _max_body(doc), 32 * 1024 * 1024),
        model_aliases=p.check(lambda: parse_model_aliases(doc.get("model_aliases", {})), {}),
        strip_model_prefixes=p.check(lambda: parse_strip_prefixes(doc.get("strip_model_prefixes", [])), ()),
        model_filters=p.check(lambda: _model_filters(doc.get("model_filters", {}), p), ModelFilters()),
        fallback_models=p.check(lambda: _fallbacks(doc.get("fallback_models", {}), p), {}),
        model_settings=p.check(lambda: _model_settings(doc.get("model_settings", {}), p), {}),
        timeouts=p.check(lambda: _timeouts(doc.get("timeouts", {}), p), Timeouts()),
        retry=p.check(lambda: _retry(doc.get("retry", {}), p), RetryPolicy()),
        discovery=p.check(lambda: _discovery(doc.get("discovery"), p), DiscoverySettings()),
        access_log=p.check(lambda: _bool(doc, "access_log", True), True),
        notices=tuple(notices),
    )


def resolve_names(
    config: ProxyConfig, *, problems: list[str] | None = None, unverified: list[str] | None = None
) -> ProxyConfig:
    """Check aliases, stripped prefixes, filters and fallbacks against the config's models.

    Run once the set of models is final (after discovery). With ``unverified`` given (an
    offline check of a config that discovers models), a name that is not configured may
    still be discovered: it goes there instead of being a problem.
    """
    p = _Problems(problems)
    models = config.model_names
    known = set(models)

    def unknown_target(exc: ConfigError) -> None:
        if unverified is None:
            p.add(exc)
        else:
            unverified.append(f"{exc} here; it may be discovered at start-up")

    table = build_names(
        models,
        config.model_aliases,
        config.strip_model_prefixes,
        config.model_filters,
        on_problem=p.add,
        on_unknown_target=unknown_target,
    )
    fallbacks: dict[str, str] = {}
    for family, target in config.fallback_models.items():
        where = f"fallback_models.{family}"
        if target not in known:
            unknown_target(ConfigError(f"{where}: '{target}' is not a configured model"))
        elif target not in table.accepted:
            p.add(ConfigError(f"{where}: '{target}' is removed by model_filters"))
        else:
            fallbacks[family] = target
    notices = list(config.notices)
    for name in config.model_settings:
        if name in known:
            continue
        meant = suggestion(name, models)
        hint = f" (did you mean '{meant}'?)" if meant else ""
        message = f"model_settings.{name}: no deployment serves this model{hint}; the settings are unused"
        if unverified is None:
            notices.append(message)
        else:
            unverified.append(f"{message} unless start-up discovers it")
    return replace(config, model_aliases=table.aliases, fallback_models=fallbacks, notices=tuple(notices))


# --- sub-accounts and service keys ------------------------------------------------------


class _Reader:
    """What loading a service key needs: where files are, how to read them, the environment."""

    def __init__(
        self, base_dir: Path, read_file: ReadFile | None, env: Mapping[str, str], notices: list[str], *, single: bool
    ) -> None:
        self.base_dir = base_dir
        self.read_file = read_file
        self.env = env
        self.notices = notices
        self.single = single  # one sub-account: SAP's SDK variable AICORE_SERVICE_KEY may serve it

    def file(self, name: str, where: str) -> Any:
        if self.read_file is None:
            raise ConfigError(f"{where}: file paths need load_config()")
        path = Path(name).expanduser()
        return self.read_file(path if path.is_absolute() else self.base_dir / path)


def _sub_account(name: str, raw: Any, where: str, reader: _Reader, p: _Problems) -> SubAccount | None:
    label = where or f"sub-account '{name}'"
    if not isinstance(raw, dict):
        p.add(ConfigError(f"{label}: must be an object"))
        return None
    misspelt = unknown_keys(where, raw, SUB_ACCOUNT_KEYS)
    for exc in misspelt:
        p.add(exc)
    ok = True
    rg = raw.get("resource_group", "default")
    if not isinstance(rg, str) or not rg:
        p.add(ConfigError(f"{_path(where, 'resource_group')}: must be a non-empty string"))
        ok = False
    service_key = p.check(lambda: _load_service_key(name, raw, where, reader), None)
    models = raw.get("deployment_models", {})
    if not isinstance(models, dict):
        p.add(ConfigError(f"{_path(where, 'deployment_models')}: must map model names to lists of deployment URLs"))
        return None
    deployments: dict[str, tuple[str, ...]] = {}
    for model, urls in models.items():
        found = p.check(partial(_deployment_urls, _path(where, f"deployment_models.{model}"), urls), None)
        if found is not None:
            deployments[model] = found
    ids: dict[str, tuple[str, ...]] = p.check(lambda: _deployment_ids(where, raw.get("deployment_ids", {})), {})
    # A misspelt deployment key must not turn into "discover everything" (and its follow-on errors).
    default_discover = not models and "deployment_ids" not in raw and not misspelt
    discover = p.check(partial(_bool, raw, "discover", default_discover, where), False)
    if (ids or discover) and service_key is not None and not service_key.api_url:
        key_where = _path(where, "service_key_json") if "service_key_json" in raw else service_key_env_var(name)
        p.add(
            ConfigError(
                f"{key_where}.serviceurls.AI_API_URL: required for deployment_ids and discovery "
                "(copy the whole service key from the SAP BTP cockpit)"
            )
        )
        ok = False
    if not models and not ids and not discover and "discover" in raw:
        p.add(
            ConfigError(
                f"{label}: no deployments; give deployment_models or deployment_ids, "
                'or let it discover them ("discover": true)'
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


def _load_service_key(name: str, raw: Mapping[str, Any], where: str, reader: _Reader) -> ServiceKey:
    """The key: ``AICORE_SERVICE_KEY_<NAME>``, else ``service_key_json``, else SAP's ``AICORE_SERVICE_KEY``.

    The last one — the variable SAP's JS SDK reads (``packages/core/src/context.ts``) — only
    for a config with a single sub-account, and only when the file gives no key, so a shell
    set up for the SDK never overrides a key the file names.
    """
    var = service_key_env_var(name)
    from_env = reader.env.get(var, "").strip()
    key_where = _path(where, "service_key_json")
    if from_env:
        if "service_key_json" in raw:
            reader.notices.append(
                f"sub-account '{name}': the service key comes from {var}; "
                "the environment wins over its service_key_json"
            )
        return _service_key(_env_key_doc(var, from_env, reader), var)
    key_doc = raw.get("service_key_json")
    sdk_key = reader.env.get(SDK_SERVICE_KEY_ENV, "").strip() if reader.single else ""
    if key_doc is None and sdk_key:
        reader.notices.append(f"sub-account '{name}': the service key comes from {SDK_SERVICE_KEY_ENV}")
        return _service_key(_env_key_doc(SDK_SERVICE_KEY_ENV, sdk_key, reader), SDK_SERVICE_KEY_ENV)
    if key_doc is None:
        raise ConfigError(
            f"{key_where}: required: a path to the service-key file or the key itself (or set {var} to either)"
        )
    if isinstance(key_doc, str):
        try:
            key_doc = reader.file(key_doc, key_where)
        except ConfigError as exc:
            raise ConfigError(f"{key_where}: {exc}") from exc
    return _service_key(key_doc, key_where)


def _env_key_doc(var: str, value: str, reader: _Reader) -> Any:
    """The key in an environment variable: its JSON, or a file path. The value is never echoed."""
    if value.startswith("{"):
        try:
            return json.loads(value)
        except ValueError as exc:
            raise ConfigError(f"{var}: looks like JSON but is not valid JSON ({exc})") from None
    try:
        return reader.file(value, var)
    except ConfigError:
        raise ConfigError(
            f"{var}: neither the service key's JSON nor the path of a readable service-key file"
        ) from None


def _env_service_keys(env: Mapping[str, str], sub_accounts: list[str], notices: list[str]) -> None:
    """A service-key variable that names no sub-account is likely a typo; two names on one variable a clash."""
    owners: dict[str, list[str]] = {}
    for name in sub_accounts:
        owners.setdefault(service_key_env_var(name), []).append(name)
    for var, names in owners.items():
        if len(names) > 1 and env.get(var, "").strip():
            raise ConfigError(
                f"{var}: sub-accounts {', '.join(repr(n) for n in names)} share this variable name; "
                "rename one of them or give their keys in service_key_json"
            )
    if len(sub_accounts) > 1 and env.get(SDK_SERVICE_KEY_ENV, "").strip():
        notices.append(
            f"{SDK_SERVICE_KEY_ENV} is set but the config has {len(sub_accounts)} sub-accounts; it is ignored "
            f"(give each its own {SERVICE_KEY_ENV_PREFIX}<SUBACCOUNT>)"
        )
    for var in env:
        if var.startswith(SERVICE_KEY_ENV_PREFIX) and var not in owners:
            meant = suggestion(var, owners)
            hint = f"did you mean {meant}?" if meant else f"sub-accounts: {', '.join(sub_accounts)}"
            notices.append(f"{var} is set but names no sub-account ({hint}); it is ignored")


def _service_key(doc: Any, where: str) -> ServiceKey:
    """A client-secret key (``clientsecret``) or an X.509 key (``certificate``, ``key``, ``certurl``)."""
    if not isinstance(doc, dict):
        raise ConfigError(f"{where}: must be a path to a service-key JSON file or the key object itself")
    if not _text(doc, "clientid"):
        raise ConfigError(f"{where}.clientid: missing (copy the service key from the SAP BTP cockpit)")
    urls = doc.get("serviceurls")
    api_url = urls.get("AI_API_URL") if isinstance(urls, dict) else None
    common: dict[str, Any] = {
        "clientid": doc["clientid"],
        "identityzoneid": _text(doc, "identityzoneid"),
        "api_url": api_url.rstrip("/") if isinstance(api_url, str) and api_url else None,
    }
    if _text(doc, "clientsecret"):
        if not _text(doc, "url"):
            raise ConfigError(f"{where}.url: missing (copy the service key from the SAP BTP cockpit)")
        return ServiceKey(clientsecret=doc["clientsecret"], url=_auth_base(doc["url"]), **common)
    if not any(k in doc for k in ("certificate", "key", "certurl")):
        raise ConfigError(
            f"{where}.clientsecret: missing (an X.509 key has certificate, key and certurl instead; "
            "copy the service key from the SAP BTP cockpit)"
        )
    # X.509 key. SAP's Python SDK turns escaped "\n" in both PEM texts into newlines
    # (ai_api_client_sdk/helpers/authenticator.py), as keys pasted into JSON often have them.
    pem = {k: (_text(doc, k) or "").replace("\\n", "\n") for k in ("certificate", "key")}
    if "-----BEGIN" not in pem["certificate"]:
        raise ConfigError(f"{where}.certificate: missing or not a PEM certificate (X.509 service key)")
    if "-----BEGIN" not in pem["key"] or "PRIVATE KEY" not in pem["key"]:
        raise ConfigError(f"{where}.key: missing or not a PEM private key (X.509 service key)")
    certurl = _text(doc, "certurl")
    if not certurl or not certurl.startswith(("http://", "https://")):
        raise ConfigError(f"{where}.certurl: missing or not an http(s) URL (X.509 service key)")
    auth = _auth_base(certurl)
    url = _text(doc, "url")
    return ServiceKey(
        clientsecret=None,
        url=_auth_base(url) if url else auth,
        certificate=pem["certificate"],
        key=pem["key"],
        certurl=auth,
        **common,
    )


def _text(doc: Mapping[str, Any], key: str) -> str | None:
    value = doc.get(key)
    return value if isinstance(value, str) and value else None


def _auth_base(url: str) -> str:
    """An XSUAA base URL without a trailing slash or ``/oauth/token`` (SAP's SDKs accept both forms)."""
    url = url.rstrip("/")
    return url[: -len("/oauth/token")] if url.endswith("/oauth/token") else url


def _deployment_ids(where: str, raw: Any) -> dict[str, tuple[str, ...]]:
    field_path = _path(where, "deployment_ids")
    if not isinstance(raw, dict):
        raise ConfigError(f"{field_path}: must map model names to lists of deployment ids")
    out: dict[str, tuple[str, ...]] = {}
    for model, ids in raw.items():
        if isinstance(ids, str):
            ids = [ids]
        if not isinstance(ids, list) or not ids:
            raise ConfigError(f"{field_path}.{model}: must be a non-empty list of deployment ids")
        for i, dep_id in enumerate(ids):
            if not isinstance(dep_id, str) or not dep_id or "/" in dep_id:
                raise ConfigError(f"{field_path}.{model}[{i}]: must be a deployment id (no slashes)")
        out[model] = tuple(dict.fromkeys(ids))
    return out


def _deployment_urls(where: str, urls: Any) -> tuple[str, ...]:
    if isinstance(urls, str):
        urls = [urls]
    if not isinstance(urls, list) or not urls:
        raise ConfigError(f"{where}: must be a non-empty list of URLs")
    for i, url in enumerate(urls):
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ConfigError(f"{where}[{i}]: must be an http(s) URL")
    return tuple(u.rstrip("/") for u in urls)


# --- top-level values ---------------------------------------------------------------------


def _api_keys(doc: Mapping[str, Any]) -> list[str]:
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


def _bool(doc: Mapping[str, Any], key: str, default: bool, where: str = "") -> bool:
    value = doc.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{_path(where, key)}: must be true or false")
    return value


def _object(raw: Any, where: str, what: str, known: tuple[str, ...], p: _Problems) -> dict[str, Any]:
    """``raw`` as an object whose unknown keys are reported (each one, with a suggestion)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be an object ({what})")
    for exc in unknown_keys(where, raw, known):
        p.add(exc)
    return {k: v for k, v in raw.items() if k in known}


def _model_filters(raw: Any, p: _Problems) -> ModelFilters:
    known = _object(raw, "model_filters", "include_filters and/or exclude_filters", MODEL_FILTER_KEYS, p)
    return parse_model_filters(known)


def _fallbacks(raw: Any, p: _Problems) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise ConfigError("fallback_models: must map a family (openai, claude, gemini) to a configured model")
    out: dict[str, str] = {}
    for family, target in raw.items():
        if family not in FAMILIES:
            meant = suggestion(family, FAMILIES)
            hint = f"did you mean '{meant}'?" if meant else f"use one of {', '.join(FAMILIES)}"
            p.add(ConfigError(f"fallback_models.{family}: unknown family; {hint}"))
        elif not isinstance(target, str) or not target:
            p.add(ConfigError(f"fallback_models.{family}: must be the name of a configured model"))
        else:
            out[family] = target
    return out


def _model_settings(raw: Any, p: _Problems) -> dict[str, ModelSettings]:
    if not isinstance(raw, dict):
        raise ConfigError("model_settings: must be an object keyed by model name")
    out: dict[str, ModelSettings] = {}
    for name, entry in raw.items():
        settings = p.check(partial(_one_model_settings, f"model_settings.{name}", entry, p), None)
        if settings is not None:
            out[name] = settings
    return out


def _one_model_settings(where: str, entry: Any, p: _Problems) -> ModelSettings:
    entry = _object(entry, where, ", ".join(MODEL_SETTINGS_KEYS), MODEL_SETTINGS_KEYS, p)
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
    if max_tokens is not None and (not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1):
        raise ConfigError(f"{where}.max_tokens: must be a positive integer")
    capabilities = entry.get("capabilities")
    if capabilities is not None:  # validated here, applied by the router (shared/capabilities.py)
        capabilities = parse_capability_overrides(capabilities, f"{where}.capabilities")
    return ModelSettings(
        family=family,
        claude_api=claude_api,
        api_version=entry.get("api_version"),
        upstream_model=entry.get("upstream_model"),
        max_tokens=max_tokens,
        capabilities=capabilities,
    )


def _timeouts(raw: Any, p: _Problems) -> Timeouts:
    known = _object(raw, "timeouts", "seconds per timeout", TIMEOUT_KEYS, p)
    values: dict[str, float] = {}
    for key, v in known.items():
        if not isinstance(v, int | float) or isinstance(v, bool) or v <= 0:
            raise ConfigError(f"timeouts.{key}: must be a positive number of seconds")
        values[key] = float(v)
    return Timeouts(**values)


def _retry(raw: Any, p: _Problems) -> RetryPolicy:
    known = _object(raw, "retry", "retry and circuit-breaker limits", RETRY_KEYS, p)
    values: dict[str, Any] = {}
    for key, value in known.items():
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"retry.{key}: must be a non-negative number")
        values[key] = int(value) if key in ("max_attempts", "breaker_failures") else float(value)
    if values.get("max_attempts", 1) < 1:
        raise ConfigError("retry.max_attempts: must be at least 1")
    return RetryPolicy(**values)


def _discovery(raw: Any, p: _Problems) -> DiscoverySettings:
    if raw is None:
        return DiscoverySettings()
    known = _object(raw, "discovery", "enabled, cache_dir, ttl_seconds", DISCOVERY_KEYS, p)
    enabled = known.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError("discovery.enabled: must be true or false")
    cache_dir = known.get("cache_dir", DEFAULT_CACHE_DIR)
    if not isinstance(cache_dir, str) or not cache_dir:
        raise ConfigError("discovery.cache_dir: must be a non-empty path")
    ttl = known.get("ttl_seconds", DEFAULT_TTL)
    if not isinstance(ttl, int | float) or isinstance(ttl, bool) or ttl < 0:
        raise ConfigError("discovery.ttl_seconds: must be a number of seconds, 0 or more")
    return DiscoverySettings(enabled, cache_dir, float(ttl))
