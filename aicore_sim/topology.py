"""Sub-accounts and deployments the simulator serves, and the proxy config that points at them.

The topology is plain JSON (the shape of ``GET /__sim/topology``) so a test can load
its own with ``--topology FILE``; the built-in default is what the project's tests rely on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DEFAULT_TOPOLOGY",
    "Deployment",
    "SubAccount",
    "Topology",
    "load_topology",
    "proxy_config",
]

FAMILIES = ("openai", "claude", "gemini")
KINDS = ("chat", "embeddings")
STREAM_FORMATS = ("sse", "jsonl", "array")
LATENCY_KEYS = ("ttft_ms", "chunk_gap_ms", "chunks", "latency_ms")
_DEPLOYMENT_KEYS = frozenset(
    ("id", "model", "family", "kind", "python_literals", "gemini_stream_format", "claude_api", *LATENCY_KEYS)
)
_SUBACCOUNT_KEYS = frozenset(("name", "clientid", "clientsecret", "identityzoneid", "resource_group", "deployments"))
# Optional sub-account keys: the service key's credential type ("secret" or "x509"; SAP's
# create-a-service-key-7323ff4.md) and the listing-only deployments (aicore_sim/inventory.py).
_SUBACCOUNT_OPTIONAL_KEYS = frozenset(("credential_type", "listing_extras"))
CREDENTIAL_TYPES = ("secret", "x509")


def _dep(dep_id: str, model: str, family: str, kind: str = "chat", **extra: Any) -> dict[str, Any]:
    return {"id": dep_id, "model": model, "family": family, "kind": kind, **extra}


DEFAULT_TOPOLOGY: dict[str, Any] = {
    "subaccounts": [
        {
            "name": "sim-a",
            "clientid": "sb-sim-a!b1001|aicore!b540",
            "clientsecret": "sim-a-secret",
            "identityzoneid": "sim-a-zone",
            "resource_group": "default",
            "deployments": [
                _dep("da-gpt-4o", "gpt-4o", "openai"),
                _dep("da-gpt-5", "gpt-5", "openai"),
                _dep("da-embed-3-small", "text-embedding-3-small", "openai", "embeddings"),
                _dep("da-claude-4-sonnet", "anthropic--claude-4-sonnet", "claude"),
                _dep(
                    "da-claude-3-7-sonnet",
                    "anthropic--claude-3.7-sonnet",
                    "claude",
                    python_literals=True,
                    claude_api="converse",
                ),
                _dep("da-gemini-2-5-pro", "gemini-2.5-pro", "gemini"),
                # One deployment per Claude generation whose request rules differ
                # (aicore_sim.families.claude_rules), named as SAP's model list names them
                # (SAP/ai-sdk-js scripts/sap-models.json, packages/core/src/model-types.ts).
                _dep("da-claude-3-5-sonnet", "anthropic--claude-3.5-sonnet", "claude"),
                _dep("da-claude-4-5-sonnet", "anthropic--claude-4.5-sonnet", "claude"),
                _dep("da-claude-4-5-haiku", "anthropic--claude-4.5-haiku", "claude"),
                _dep("da-claude-4-6-sonnet", "anthropic--claude-4.6-sonnet", "claude"),
                _dep("da-claude-4-6-opus", "anthropic--claude-4.6-opus", "claude"),
                _dep("da-claude-4-7-opus", "anthropic--claude-4.7-opus", "claude"),
                # SAP announced "Gemini 3.0 Pro" (SAP-docs/sap-artificial-intelligence,
                # what-s-new-for-sap-ai-launchpad, 2026-03-01) without a model id; SAP drops Google's
                # "-preview" suffix in its names (gemini-3-pro-image, gemini-3.1-flash-lite).
                _dep("da-gemini-3-pro", "gemini-3-pro", "gemini"),
            ],
        },
        {
            "name": "sim-b",
            "clientid": "sb-sim-b!b1002|aicore!b540",
            "clientsecret": "sim-b-secret",
            "identityzoneid": "sim-b-zone",
            "resource_group": "rg-b",
            "deployments": [
                _dep("db-gpt-4o", "gpt-4o", "openai"),
                _dep("db-claude-4-sonnet", "anthropic--claude-4-sonnet", "claude"),
                _dep("db-gemini-2-5-pro", "gemini-2.5-pro", "gemini"),
                _dep("db-gemini-2-5-flash", "gemini-2.5-flash", "gemini"),
            ],
        },
    ]
}


@dataclass(slots=True)
class Deployment:
    """One inference deployment (a backend model behind ``/v2/inference/deployments/<id>``)."""

    id: str
    model: str
    family: str
    kind: str
    subaccount: str
    resource_group: str
    python_literals: bool = False
    gemini_stream_format: str = "sse"
    claude_api: str | None = None
    latency: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class SubAccount:
    """An AI Core tenant: its XSUAA client and resource group."""

    name: str
    clientid: str
    clientsecret: str
    identityzoneid: str
    resource_group: str
    deployments: list[Deployment]
    credential_type: str = "secret"
    listing_extras: list[dict[str, Any]] | None = None  # None: the built-in set (aicore_sim/inventory.py)


@dataclass(slots=True)
class Topology:
    """The parsed topology plus fast lookups by deployment id and client id."""

    raw: dict[str, Any]
    subaccounts: dict[str, SubAccount]
    deployments: dict[str, Deployment]
    by_clientid: dict[str, SubAccount]


def _require(cond: bool, msg: str) -> None:
    if not cond:
        raise ValueError(f"invalid topology: {msg}")


def load_topology(raw: dict[str, Any] | None = None) -> Topology:
    """Validate a topology document (the default one when ``raw`` is None)."""
    raw = DEFAULT_TOPOLOGY if raw is None else raw
    _require(isinstance(raw, dict) and isinstance(raw.get("subaccounts"), list), "needs a 'subaccounts' list")
    subs: dict[str, SubAccount] = {}
    deps: dict[str, Deployment] = {}
    by_client: dict[str, SubAccount] = {}
    for sa in raw["subaccounts"]:
        _require(isinstance(sa, dict), "a sub-account must be an object")
        unknown = set(sa) - _SUBACCOUNT_KEYS - _SUBACCOUNT_OPTIONAL_KEYS
        _require(not unknown, f"unknown sub-account keys {sorted(unknown)}")
        credential_type = sa.get("credential_type", "secret")
        _require(credential_type in CREDENTIAL_TYPES, f"credential_type must be one of {CREDENTIAL_TYPES}")
        needed = ("name", "clientid") if credential_type == "x509" else ("name", "clientid", "clientsecret")
        for key in needed:
            _require(isinstance(sa.get(key), str) and sa[key], f"sub-account needs '{key}'")
        extras = sa.get("listing_extras")
        _require(extras is None or isinstance(extras, list), "listing_extras must be a list")
        _require(sa["name"] not in subs, f"duplicate sub-account {sa['name']}")
        _require(sa["clientid"] not in by_client, f"duplicate clientid {sa['clientid']}")
        sub = SubAccount(
            name=sa["name"],
            clientid=sa["clientid"],
            clientsecret=sa["clientsecret"] if credential_type == "secret" else "",
            identityzoneid=str(sa.get("identityzoneid") or sa["name"]),
            resource_group=str(sa.get("resource_group") or "default"),
            deployments=[],
            credential_type=credential_type,
            listing_extras=extras,
        )
        for d in sa.get("deployments") or []:
            _require(isinstance(d, dict), "a deployment must be an object")
            unknown = set(d) - _DEPLOYMENT_KEYS
            _require(not unknown, f"unknown deployment keys {sorted(unknown)}")
            _require(isinstance(d.get("id"), str) and d["id"] and "/" not in d["id"], "deployment needs an 'id'")
            _require(d["id"] not in deps, f"duplicate deployment id {d['id']}")
            _require(isinstance(d.get("model"), str) and d["model"], f"deployment {d['id']} needs a 'model'")
            _require(d.get("family") in FAMILIES, f"deployment {d['id']}: family must be one of {FAMILIES}")
            kind = d.get("kind", "chat")
            _require(kind in KINDS, f"deployment {d['id']}: kind must be one of {KINDS}")
            _require(kind == "chat" or d["family"] == "openai", f"deployment {d['id']}: only openai embeds")
            fmt = d.get("gemini_stream_format", "sse")
            _require(fmt in STREAM_FORMATS, f"deployment {d['id']}: gemini_stream_format in {STREAM_FORMATS}")
            dep = Deployment(
                id=d["id"],
                model=d["model"],
                family=d["family"],
                kind=kind,
                subaccount=sub.name,
                resource_group=sub.resource_group,
                python_literals=bool(d.get("python_literals", False)),
                gemini_stream_format=fmt,
                claude_api=d.get("claude_api"),
                latency={k: d[k] for k in LATENCY_KEYS if d.get(k) is not None},
            )
            sub.deployments.append(dep)
            deps[dep.id] = dep
        subs[sub.name] = sub
        by_client[sub.clientid] = sub
    return Topology(raw=raw, subaccounts=subs, deployments=deps, by_clientid=by_client)


def proxy_config(topology: Topology, host: str, port: int) -> dict[str, Any]:
    """A proxy ``config.json`` whose sub-accounts point at this simulator (inline service keys)."""
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    base = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    subaccounts: dict[str, Any] = {}
    model_settings: dict[str, Any] = {}
    for sub in topology.subaccounts.values():
        models: dict[str, list[str]] = {}
        for dep in sub.deployments:
            models.setdefault(dep.model, []).append(f"{base}/v2/inference/deployments/{dep.id}")
            if dep.claude_api:
                model_settings.setdefault(dep.model, {})["claude_api"] = dep.claude_api
        subaccounts[sub.name] = {
            "resource_group": sub.resource_group,
            "service_key_json": {
                "clientid": sub.clientid,
                "clientsecret": sub.clientsecret,
                "url": base,
                "identityzoneid": sub.identityzoneid,
                "serviceurls": {"AI_API_URL": base},
            },
            "deployment_models": models,
        }
    return {
        "subAccounts": subaccounts,
        "secret_authentication_tokens": ["sim-key"],
        "model_settings": model_settings,
        "host": "127.0.0.1",
        "port": 3001,
    }
