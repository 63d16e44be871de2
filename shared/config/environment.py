"""Secrets from the environment, as SAP's SDKs allow, so ``config.json`` can be kept secret-free.

* ``AICORE_SERVICE_KEY_<SUBACCOUNT>``: a sub-account's service key — the key's JSON
  itself, or a path to the key file (relative paths: next to the config file). The
  sub-account name is upper-cased and every other character than A–Z and 0–9 becomes
  ``_`` (``team-eu`` → ``AICORE_SERVICE_KEY_TEAM_EU``). It wins over the file's
  ``service_key_json``, as SAP's Python SDK lets environment variables win over its
  config file (``ai_core_sdk/credentials.py``, ``fetch_credentials``: "kwargs >
  environment variables > config file > VCAP service"); start-up says so.
* ``AICORE_SERVICE_KEY``: the variable SAP's JS SDK reads (``packages/core/src/context.ts``),
  for a config with a single sub-account that gives no ``service_key_json``.
* ``PROXY_API_KEYS``: client API keys, comma-separated, added to
  ``secret_authentication_tokens``.

The environment is passed in (a mapping), so this stays pure; values are never put in
a message.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["API_KEYS_ENV", "SDK_SERVICE_KEY_ENV", "SERVICE_KEY_ENV_PREFIX", "api_keys_from_env", "service_key_env_var"]

SERVICE_KEY_ENV_PREFIX = "AICORE_SERVICE_KEY_"
SDK_SERVICE_KEY_ENV = "AICORE_SERVICE_KEY"
API_KEYS_ENV = "PROXY_API_KEYS"


def service_key_env_var(sub_account: str) -> str:
    """The environment variable that may hold ``sub_account``'s service key."""
    return SERVICE_KEY_ENV_PREFIX + "".join(c if c.isascii() and c.isalnum() else "_" for c in sub_account.upper())


def api_keys_from_env(env: Mapping[str, str]) -> list[str]:
    """Client keys from ``PROXY_API_KEYS`` (comma-separated; blanks around and empty items ignored)."""
    return [key.strip() for key in env.get(API_KEYS_ENV, "").split(",") if key.strip()]
