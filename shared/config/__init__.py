"""Proxy configuration: the original proxies' ``config.json`` format, strict and parsed once.

Three rooms: :mod:`~shared.config.settings` (what a setting is: frozen dataclasses,
incl. retry and discovery settings), :mod:`~shared.config.parsing` (document ->
settings, with the one legacy-layout normaliser, :mod:`~shared.config.keys` for
unknown keys and :mod:`~shared.config.environment` for secrets from the environment),
and :mod:`~shared.config.files` (reading files; the discovery merge is
``shared/discovery.py``, start-up's loader ``shared/transports/discovery_http.py``).
See docs/configuration.md for every field.
"""

from shared.config.environment import API_KEYS_ENV, SERVICE_KEY_ENV_PREFIX, service_key_env_var
from shared.config.files import (
    DEFAULT_CONFIG_PATH,
    ConfigReport,
    check_config_file,
    config_path,
    load_config,
    read_config_doc,
    read_json_file,
)
from shared.config.parsing import normalise_layout, parse_config, parse_document, resolve_names
from shared.config.settings import (
    CLAUDE_APIS,
    FAMILIES,
    DiscoverySettings,
    ModelSettings,
    ProxyConfig,
    RetryPolicy,
    ServiceKey,
    SubAccount,
    Timeouts,
    api_url_of,
    deployment_id_of,
    deployment_url,
)
from shared.errors import ConfigError

__all__ = [
    "API_KEYS_ENV",
    "CLAUDE_APIS",
    "DEFAULT_CONFIG_PATH",
    "FAMILIES",
    "SERVICE_KEY_ENV_PREFIX",
    "ConfigError",
    "ConfigReport",
    "DiscoverySettings",
    "ModelSettings",
    "ProxyConfig",
    "RetryPolicy",
    "ServiceKey",
    "SubAccount",
    "Timeouts",
    "api_url_of",
    "check_config_file",
    "config_path",
    "deployment_id_of",
    "deployment_url",
    "load_config",
    "normalise_layout",
    "parse_config",
    "parse_document",
    "read_config_doc",
    "read_json_file",
    "resolve_names",
    "service_key_env_var",
]
