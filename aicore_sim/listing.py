"""``GET /v2/lm/deployments[/<id>]``: the AI API deployment listing (what proxy discovery reads).

Needs an XSUAA bearer token; lists the token's sub-account deployments in the
``AI-Resource-Group`` (default ``default``) in the shape SAP AI Core answers with.

Sources: the AI API specification (SAP/ai-sdk-js, packages/ai-api/src/spec/AI_CORE_API.yaml:
``/lm/deployments`` ``deployment.query``, ``AiDeploymentList``, ``AiDeployment``,
``AiResourcesDetails``), SAP's JS SDK (packages/ai-api/src/utils/deployment-resolver.ts,
model.ts) and SAP's Python SDK test fixtures (SAP/ai-sdk-python, packages/gen/tests/mock.py).
"""

from __future__ import annotations

from typing import Any, Protocol

import orjson

from aicore_sim.cache import Pairs
from aicore_sim.families.base import Outcome
from aicore_sim.inventory import DEPLOYMENT_STATUSES, Listed
from aicore_sim.server import Connection, Request
from aicore_sim.state import Settings, TokenStore


class ListingSource(Protocol):
    """What the listing needs of the simulator: tokens, settings, the listed deployments, a way to answer."""

    tokens: TokenStore
    settings: Settings
    inventory: dict[str, list[Listed]]

    def send(
        self, req: Request, conn: Connection, dep_id: str | None, out: Outcome, pairs: Pairs | None = None
    ) -> None: ...


__all__ = ["LISTING_PREFIX", "ListingSource", "list_deployments", "resource"]

LISTING_PREFIX = "/v2/lm/deployments"
_UNAUTHORIZED = Outcome(401, b'{"error":{"code":"401","message":"Unauthorized"}}')
# AI_CORE_API.yaml, components.parameters.Aitop: integer, default 10000, maximum 100000.
_TOP_DEFAULT = 10_000
_TOP_MAX = 100_000
# Fixed timestamps: the listing is deterministic (createdAt and modifiedAt are required fields).
_CREATED = "2026-01-05T09:00:00Z"
_STARTED = "2026-01-05T09:03:00Z"


def _bad_request(message: str) -> Outcome:
    # AiBadRequest: {"error": AiApiError}, AiApiError has the required "code" and "message".
    return Outcome(400, orjson.dumps({"error": {"code": "400", "message": message}}))


def _spelled(value: dict[str, Any], spelling: str) -> dict[str, Any]:
    """``{"backendDetails": value}`` and/or ``{"backend_details": value}``.

    The specification and SAP's JS SDK (utils/model.ts reads
    ``details.resources.backendDetails.model``) use camelCase; SAP's Python SDK reads
    ``details["resources"]["backend_details"]["model"]`` (gen_ai_hub_proxy/client.py) and its
    fixtures show orchestration deployments carrying both. The service currently sends both.
    """
    if spelling == "camel":
        return {"backendDetails": value}
    if spelling == "snake":
        return {"backend_details": value}
    return {"backendDetails": value, "backend_details": value}


def resource(dep: Listed, base: str, spelling: str) -> dict[str, Any]:
    """One ``AiDeployment`` of the listing."""
    running = dep.status == "RUNNING"
    model = {"model": {"name": dep.model, "version": "latest"}} if dep.model else {}
    config_name = f"{dep.model}-config" if dep.model else f"{dep.scenario}-config"
    doc: dict[str, Any] = {"id": dep.id}
    # "The deploymentUrl is available only when the deployment has the status RUNNING"
    # (SAP-docs/sap-artificial-intelligence, create-a-deployment-for-orchestration-4387aa7.md,
    # which also shows a scheduled deployment answering "deploymentUrl": ""). The field is
    # optional in AiDeployment: pending/unknown ones carry "", stopped/dead ones leave it out.
    if running:
        doc["deploymentUrl"] = f"{base}/v2/inference/deployments/{dep.id}"
    elif dep.status in ("PENDING", "UNKNOWN"):
        doc["deploymentUrl"] = ""
    doc.update(
        {
            "configurationId": f"cfg-{dep.id}",
            "configurationName": config_name,
            "scenarioId": dep.scenario,
            "status": dep.status,
            "targetStatus": "STOPPED" if dep.status in ("STOPPED", "STOPPING") else "RUNNING",
            "lastOperation": "CREATE",
            "latestRunningConfigurationId": f"cfg-{dep.id}",
            "createdAt": _CREATED,
            "modifiedAt": _STARTED if running else _CREATED,
            "submissionTime": _CREATED,
            "details": {"resources": _spelled(model, spelling), "scaling": _spelled({}, spelling)},
        }
    )
    if running:
        doc["startTime"] = _STARTED
    return doc


def _int_param(query: dict[str, str], name: str, default: int, maximum: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"Invalid value for query parameter {name}: '{raw}' is not an integer") from None
    if not 0 <= value <= maximum:
        raise ValueError(f"Invalid value for query parameter {name}: must be between 0 and {maximum}")
    return value


def _matches(dep: Listed, query: dict[str, str]) -> bool:
    """The query filters of ``deployment.query`` (the SDKs send ``scenarioId`` and ``status``)."""
    scenario = query.get("scenarioId")
    if scenario and dep.scenario != scenario:
        return False
    status = query.get("status")
    if status and dep.status != status:
        return False
    configuration = query.get("configurationId")
    if configuration and f"cfg-{dep.id}" != configuration:
        return False
    # AiexecutableIdsList: an array in "form" style without explode, i.e. comma-separated.
    executables = query.get("executableIds")
    return not executables or dep.executable in executables.split(",")


def list_deployments(sim: ListingSource, req: Request, conn: Connection) -> None:
    if req.method != "GET":
        sim.send(req, conn, None, Outcome(405, b'{"error":{"code":"405","message":"Method not allowed"}}'))
        return
    auth = req.headers.get("authorization", "")
    info = sim.tokens.check(auth[7:].strip()) if auth[:7].lower() == "bearer " else None
    if info is None:
        sim.send(req, conn, None, _UNAUTHORIZED)
        return
    settings = sim.settings
    group = req.headers.get("ai-resource-group", "default")
    scheme = "https" if conn.tls else "http"
    base = f"{scheme}://{req.headers.get('host', '127.0.0.1')}"
    deps = [d for d in sim.inventory[info[1]] if d.resource_group == group and (settings.listing_extras or not d.extra)]
    spelling = settings.listing_spelling
    dep_id = req.path[len(LISTING_PREFIX) :].strip("/")
    if dep_id:
        found = next((d for d in deps if d.id == dep_id), None)
        if found is None:
            body = {"error": {"code": "404", "message": f"Deployment {dep_id} not found in resource group '{group}'"}}
            sim.send(req, conn, None, Outcome(404, orjson.dumps(body)))
            return
        sim.send(req, conn, None, Outcome(200, orjson.dumps(resource(found, base, spelling))))
        return
    query = req.query
    try:
        # "With top/skip parameters it is possible to paginate the result list" (deployment.query).
        top = _int_param(query, "$top", _TOP_DEFAULT, _TOP_MAX)
        skip = _int_param(query, "$skip", 0, 2**31 - 1)
        status = query.get("status")
        if status and status not in DEPLOYMENT_STATUSES:
            raise ValueError(f"Invalid value for query parameter status: '{status}'")
    except ValueError as exc:
        sim.send(req, conn, None, _bad_request(str(exc)))
        return
    matching = [d for d in deps if _matches(d, query)]
    # The server may hand out fewer than $top (the "listing_page_size" setting plays a
    # server-side page limit); "count" is the number of all matching deployments, so a client
    # pages with $skip until it has seen "count" of them.
    limit = top if settings.listing_page_size is None else min(top, settings.listing_page_size)
    page = matching[skip : skip + limit]
    doc = {"count": len(matching), "resources": [resource(d, base, spelling) for d in page]}
    sim.send(req, conn, None, Outcome(200, orjson.dumps(doc)))
