"""The proxy ``config.json`` the simulator emits (``--print-config``, ``--write-config``, ``GET /__sim/config``).

Built on :func:`aicore_sim.topology.proxy_config` (one inline service key and the
``deployment_models`` per sub-account), with three variations:

* X.509 sub-accounts get a service key with ``certificate``, ``key`` and ``certurl`` instead
  of ``clientsecret`` (SAP-docs/sap-artificial-intelligence, create-a-service-key-7323ff4.md:
  "If you have generated an x.509 certificate, your key will include: certificate, certurl,
  key, identityzone and identityzoneid, appname, serviceurls"; ``certurl`` is the key name
  SAP's Python SDK reads, SAP/ai-sdk-python packages/core/ai_core_sdk/credentials.py).
  ``certurl`` is the HTTPS listener, ``url`` stays the plain token URL.
* ``tls=True``: every URL (token, AI API, deployments) points at the HTTPS listener, for
  tests of ``SSL_CERT_FILE`` / ``REQUESTS_CA_BUNDLE`` handling.
* ``names="original"``: the ``deployment_models`` keys are the names the original proxies'
  READMEs and example configs use (pjq/sap-ai-core-llm-proxy README.md and
  config.json.example: ``3.7-sonnet``, ``4-sonnet``, ``4.5-sonnet``, ``gpt-o3-mini``, ``gpt-4o``;
  wl21st/sap-ai-core-llm-proxy tests/integration/test_config.json.example: ``sonnet-4.5``,
  ``gemini-2.5-pro``), and only the keys those configs have are written (no ``model_settings``).
"""

from __future__ import annotations

from typing import Any

from aicore_sim.tls import TlsSetup
from aicore_sim.topology import Topology, proxy_config

__all__ = ["CONFIG_NAMES", "build_config", "original_names"]

CONFIG_NAMES = ("backend", "original")


def original_names(model: str) -> list[str]:
    """The names a user of the original proxies has for a backend model in ``config.json``.

    ``anthropic--claude-3.7-sonnet`` -> ``3.7-sonnet`` (their README: Cursor refuses names
    containing "claude"); ``anthropic--claude-4.5-sonnet`` -> ``4.5-sonnet`` and ``sonnet-4.5``
    (both spellings are in use); ``o3-mini`` -> ``gpt-o3-mini``; every other name unchanged.
    """
    if model.startswith("anthropic--claude-"):
        short = model[len("anthropic--claude-") :]
        version, _, variant = short.partition("-")
        names = [short]
        if version == "4.5" and variant:
            names.append(f"{variant}-{version}")
        return names
    if model[:2] in ("o1", "o3", "o4"):
        return [f"gpt-{model}"]
    return [model]


def _base(scheme: str, host: str, port: int) -> str:
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


def build_config(
    topology: Topology,
    host: str,
    port: int,
    *,
    names: str = "backend",
    tls: bool = False,
    tls_setup: TlsSetup | None = None,
) -> dict[str, Any]:
    """The proxy config for a simulator at ``host:port`` (HTTPS listener: ``tls_setup.port``).

    Raises ValueError when X.509 sub-accounts or ``tls`` need an HTTPS listener that is not set up.
    """
    if names not in CONFIG_NAMES:
        raise ValueError(f"names must be one of {', '.join(CONFIG_NAMES)}")
    doc = proxy_config(topology, host, port)
    http_base = _base("http", host, port)
    https_base = None
    needs_tls = tls or any(s.credential_type == "x509" for s in topology.subaccounts.values())
    if needs_tls:
        if tls_setup is None or not tls_setup.port:
            raise ValueError("this config needs the HTTPS listener: start the simulator with --tls-port")
        https_base = _base("https", host, tls_setup.port)
    for sub in topology.subaccounts.values():
        entry = doc["subAccounts"][sub.name]
        key = entry["service_key_json"]
        if tls and https_base:
            key["url"] = key["serviceurls"]["AI_API_URL"] = https_base
            entry["deployment_models"] = {
                model: [https_base + url[len(http_base) :] if url.startswith(http_base) else url for url in urls]
                for model, urls in entry["deployment_models"].items()
            }
        if sub.credential_type == "x509" and tls_setup is not None and https_base:
            cred = tls_setup.credentials[sub.name]
            entry["service_key_json"] = {
                "clientid": key["clientid"],
                "certificate": cred.certificate,
                "key": cred.key,
                "certurl": https_base,
                "url": key["url"],
                "credential-type": "x509",
                "identityzoneid": key["identityzoneid"],
                "serviceurls": key["serviceurls"],
            }
        if names == "original":
            renamed: dict[str, list[str]] = {}
            for model, urls in entry["deployment_models"].items():
                for name in original_names(model):
                    renamed.setdefault(name, []).extend(urls)
            entry["deployment_models"] = renamed
    if names == "original":
        del doc["model_settings"]
    return doc
