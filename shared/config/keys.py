"""Which keys each level of ``config.json`` knows, and the kind message for one it does not.

A misspelt key used to be ignored — ``acces_log`` left the access log on, a sub-account
``deployment_model`` registered every discovered deployment — so every level is checked
and an unknown key is reported with the nearest known one (``difflib``). Keys the
original proxies (pjq, wl21st) read are known here too, so their files still load.
Service keys are the exception: they carry many fields the proxy does not use.

Keys starting with ``_`` are comments (JSON has none) and are skipped everywhere.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import fields
from typing import Any

from shared.config.settings import RetryPolicy, Timeouts
from shared.errors import ConfigError

__all__ = [
    "DISCOVERY_KEYS",
    "LEGACY_KEYS",
    "MODEL_FILTER_KEYS",
    "MODEL_SETTINGS_KEYS",
    "RETRY_KEYS",
    "SUB_ACCOUNT_KEYS",
    "TIMEOUT_KEYS",
    "TOP_LEVEL_KEYS",
    "suggestion",
    "unknown_keys",
]

# The single-account layout of pjq: these at the top level, without ``subAccounts``.
LEGACY_KEYS = ("service_key_json", "deployment_models", "deployment_ids", "resource_group")
TOP_LEVEL_KEYS = (
    "subAccounts",
    "secret_authentication_tokens",
    "allow_unauthenticated",
    "model_settings",
    "timeouts",
    "retry",
    "fallback_models",
    "model_aliases",
    "strip_model_prefixes",
    "model_filters",
    "discovery",
    "max_body_bytes",
    "access_log",
    "host",
    "port",
    *LEGACY_KEYS,
)
SUB_ACCOUNT_KEYS = ("resource_group", "service_key_json", "deployment_models", "deployment_ids", "discover")
MODEL_SETTINGS_KEYS = ("family", "claude_api", "api_version", "upstream_model", "max_tokens", "capabilities")
TIMEOUT_KEYS = tuple(f.name for f in fields(Timeouts))
RETRY_KEYS = tuple(f.name for f in fields(RetryPolicy))
DISCOVERY_KEYS = ("enabled", "cache_dir", "ttl_seconds")
MODEL_FILTER_KEYS = ("include_filters", "exclude_filters")


def suggestion(word: str, known: Iterable[str]) -> str | None:
    """The known word ``word`` was most likely meant to be (case-insensitive match first)."""
    choices = list(known)
    for choice in choices:
        if choice.lower() == word.lower():
            return choice
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if close:
        return close[0]
    lowered = {choice.lower(): choice for choice in choices}
    close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    if close:
        return lowered[close[0]]
    # A shortened key (``ttl`` for ``ttl_seconds``) is too short for difflib's ratio.
    starts = [c for c in choices if len(word) >= 3 and c.lower().startswith(word.lower())]
    return starts[0] if len(starts) == 1 else None


def unknown_keys(where: str, raw: Mapping[str, Any], known: Iterable[str]) -> list[ConfigError]:
    """One error per key of ``raw`` not in ``known``, each naming its path and the likely meant key.

    ``where`` is the path of ``raw`` itself (empty at the top level).
    """
    known = tuple(known)
    problems = []
    for key in raw:
        if not isinstance(key, str) or key in known or key.startswith("_"):
            continue
        path = f"{where}.{key}" if where else key
        meant = suggestion(key, known)
        hint = f"did you mean '{meant}'?" if meant else f"known keys: {', '.join(known)}"
        problems.append(ConfigError(f"{path}: unknown key; {hint}"))
    return problems
