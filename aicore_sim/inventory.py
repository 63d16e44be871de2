"""What each sub-account has deployed, as the AI API deployment listing reports it.

The served deployments of the topology are all RUNNING ``foundation-models`` deployments.
Real listings hold more (sap-ai-core-facts.md, "Additions (December 2026)"): deployments
that are stopped, pending or dead, deployments of model families a proxy may not serve,
and orchestration deployments. Those are the *listing extras*: they appear in the listing
only while the ``listing_extras`` setting is on (so default tests see the old listing),
and the simulator serves no inference on them (a call answers 404, unknown deployment).

Each sub-account gets the built-in extras below unless its topology entry has a
``listing_extras`` list of its own (``[]`` for none); an entry is
``{"id", "model"?, "status"?, "scenario"?, "executable"?}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aicore_sim.topology import SubAccount, Topology

__all__ = [
    "DEPLOYMENT_STATUSES",
    "Listed",
    "builtin_extras",
    "executable_for",
    "inventory",
]

# AiDeploymentStatus in the AI API specification (SAP/ai-sdk-js,
# packages/ai-api/src/spec/AI_CORE_API.yaml, components.schemas.AiDeploymentStatus).
DEPLOYMENT_STATUSES = ("PENDING", "RUNNING", "COMPLETED", "DEAD", "STOPPING", "STOPPED", "UNKNOWN")

# executableId per provider: SAP-docs/sap-artificial-intelligence,
# docs/sap-ai-core/generativeAI/foundation-models-2d981fb.md (the executables table),
# mistral-6ab293a.md (aicore-mistralai), perplexity-736025c.md (perplexity-ai),
# cohere-17d02ac.md (aicore-cohere), vertex-ai-8bb3519.md (gcp-vertexai).
_EXECUTABLE_BY_PREFIX = (
    ("anthropic--", "aws-bedrock"),
    ("amazon--", "aws-bedrock"),
    ("cohere--", "aicore-cohere"),
    ("mistralai--", "aicore-mistralai"),
    ("meta--", "aicore-opensource"),
    ("sonar", "perplexity-ai"),
    ("gemini", "gcp-vertexai"),
    ("gpt-", "azure-openai"),
    ("text-embedding-", "azure-openai"),
    ("o1", "azure-openai"),
    ("o3", "azure-openai"),
    ("o4", "azure-openai"),
)
_EXECUTABLE_BY_FAMILY = {"openai": "azure-openai", "claude": "aws-bedrock", "gemini": "gcp-vertexai"}

# The built-in extras of every sub-account: (id suffix, model, status, scenario).
# Non-running deployments use models that also run elsewhere, so a discovery that ignores
# the status would register a deployment without a URL. The foreign models are the ones the
# facts name (Nova, Titan, Cohere, Mistral, Llama, Perplexity sonar, Gemini embeddings).
_BUILTIN = (
    ("stopped-gpt-4o", "gpt-4o", "STOPPED", "foundation-models"),
    ("pending-claude-4-sonnet", "anthropic--claude-4-sonnet", "PENDING", "foundation-models"),
    ("dead-gemini-2-5-pro", "gemini-2.5-pro", "DEAD", "foundation-models"),
    ("nova-pro", "amazon--nova-pro", "RUNNING", "foundation-models"),
    ("titan-embed-text", "amazon--titan-embed-text", "RUNNING", "foundation-models"),
    ("command-r-plus", "cohere--command-r-plus", "RUNNING", "foundation-models"),
    ("mistral-large", "mistralai--mistral-large-instruct", "RUNNING", "foundation-models"),
    ("llama3-1-70b", "meta--llama3.1-70b-instruct", "RUNNING", "foundation-models"),
    ("sonar", "sonar", "RUNNING", "foundation-models"),
    ("gemini-embedding", "gemini-embedding", "RUNNING", "foundation-models"),
    ("orchestration", None, "RUNNING", "orchestration"),
)
_EXTRA_KEYS = frozenset(("id", "model", "status", "scenario", "executable"))


@dataclass(slots=True, frozen=True)
class Listed:
    """One deployment as the listing shows it."""

    id: str
    model: str | None  # None: no backend model (orchestration)
    status: str
    scenario: str
    executable: str | None
    resource_group: str
    extra: bool  # a listing extra (shown only with the listing_extras setting)


def executable_for(model: str | None, family: str | None, scenario: str) -> str | None:
    """The executableId a deployment of this model runs (None when unknown)."""
    if scenario == "orchestration":
        return "orchestration"
    for prefix, executable in _EXECUTABLE_BY_PREFIX:
        if model is not None and model.startswith(prefix):
            return executable
    return _EXECUTABLE_BY_FAMILY.get(family or "")


def builtin_extras(sub: SubAccount) -> list[dict[str, Any]]:
    """The default listing extras of a sub-account (ids ``<sub-account>-x-<what>``)."""
    return [
        {"id": f"{sub.name}-x-{suffix}", "model": model, "status": status, "scenario": scenario}
        for suffix, model, status, scenario in _BUILTIN
    ]


def _extra(sub: SubAccount, raw: Any, taken: set[str]) -> Listed:
    where = f"sub-account {sub.name}: listing_extras"
    if not isinstance(raw, dict) or set(raw) - _EXTRA_KEYS:
        raise ValueError(f"invalid topology: {where} entries are objects with keys {sorted(_EXTRA_KEYS)}")
    dep_id = raw.get("id")
    if not isinstance(dep_id, str) or not dep_id or "/" in dep_id or dep_id in taken:
        raise ValueError(f"invalid topology: {where} needs a unique 'id' (got {dep_id!r})")
    model = raw.get("model")
    if model is not None and (not isinstance(model, str) or not model):
        raise ValueError(f"invalid topology: {where} {dep_id}: model must be a name or null")
    status = raw.get("status", "RUNNING")
    if status not in DEPLOYMENT_STATUSES:
        raise ValueError(f"invalid topology: {where} {dep_id}: status must be one of {DEPLOYMENT_STATUSES}")
    scenario = raw.get("scenario", "foundation-models")
    if not isinstance(scenario, str) or not scenario:
        raise ValueError(f"invalid topology: {where} {dep_id}: scenario must be a name")
    executable = raw.get("executable") or executable_for(model, None, scenario)
    taken.add(dep_id)
    return Listed(dep_id, model, status, scenario, executable, sub.resource_group, True)


def inventory(topology: Topology) -> dict[str, list[Listed]]:
    """Every listed deployment per sub-account: the served ones first, then the extras.

    Raises ValueError for a malformed ``listing_extras`` entry or an id used twice.
    """
    taken = set(topology.deployments)
    out: dict[str, list[Listed]] = {}
    for sub in topology.subaccounts.values():
        listed = [
            Listed(
                d.id,
                d.model,
                "RUNNING",
                "foundation-models",
                executable_for(d.model, d.family, "foundation-models"),
                d.resource_group,
                False,
            )
            for d in sub.deployments
        ]
        extras = builtin_extras(sub) if sub.listing_extras is None else sub.listing_extras
        listed += [_extra(sub, raw, taken) for raw in extras]
        out[sub.name] = listed
    return out
