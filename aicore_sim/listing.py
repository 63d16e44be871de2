"""``GET /v2/lm/deployments[/<id>]``: the AI API deployment listing (what proxy discovery reads).

Needs an XSUAA bearer token; lists the token's sub-account deployments in the
``AI-Resource-Group`` (default ``default``) in the shape SAP AI Core answers with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from aicore_sim.families.base import Outcome
from aicore_sim.server import Connection, Request
from aicore_sim.topology import Deployment

if TYPE_CHECKING:
    from aicore_sim.app import Simulator

__all__ = ["LISTING_PREFIX", "list_deployments"]

LISTING_PREFIX = "/v2/lm/deployments"
_UNAUTHORIZED = Outcome(401, b'{"error":{"code":"401","message":"Unauthorized"}}')


def _resource(dep: Deployment, base: str) -> dict[str, Any]:
    return {
        "id": dep.id,
        "deploymentUrl": f"{base}/v2/inference/deployments/{dep.id}",
        "configurationId": f"cfg-{dep.id}",
        "configurationName": f"{dep.model}-config",
        "scenarioId": "foundation-models",
        "status": "RUNNING",
        "targetStatus": "RUNNING",
        "details": {
            "resources": {"backend_details": {"model": {"name": dep.model, "version": "latest"}}},
            "scaling": {"backend_details": {}},
        },
    }


def list_deployments(sim: Simulator, req: Request, conn: Connection) -> None:
    if req.method != "GET":
        sim.send(req, conn, None, Outcome(405, b'{"error":{"code":"405","message":"Method not allowed"}}'))
        return
    auth = req.headers.get("authorization", "")
    info = sim.tokens.check(auth[7:].strip()) if auth[:7].lower() == "bearer " else None
    if info is None:
        sim.send(req, conn, None, _UNAUTHORIZED)
        return
    sub = sim.topology.subaccounts[info[1]]
    group = req.headers.get("ai-resource-group", "default")
    base = f"http://{req.headers.get('host', '127.0.0.1')}"
    deps = [d for d in sub.deployments if d.resource_group == group]
    dep_id = req.path[len(LISTING_PREFIX) :].strip("/")
    if dep_id:
        found = next((d for d in deps if d.id == dep_id), None)
        if found is None:
            body = {"error": {"code": "404", "message": f"Deployment {dep_id} not found in resource group '{group}'"}}
            sim.send(req, conn, None, Outcome(404, orjson.dumps(body)))
            return
        sim.send(req, conn, None, Outcome(200, orjson.dumps(_resource(found, base))))
        return
    doc = {"count": len(deps), "resources": [_resource(d, base) for d in deps]}
    sim.send(req, conn, None, Outcome(200, orjson.dumps(doc)))
