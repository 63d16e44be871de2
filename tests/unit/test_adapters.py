"""Both adapters register exactly the shared route table and nothing else."""

from shared.config import parse_config
from shared.endpoints import ENDPOINTS

CONFIG = parse_config(
    {
        "subAccounts": {
            "a": {
                "service_key_json": {"clientid": "c", "clientsecret": "s", "url": "http://127.0.0.1:9"},
                "deployment_models": {"gpt-4o": ["http://127.0.0.1:9/v2/inference/deployments/d"]},
            }
        },
        "secret_authentication_tokens": ["k"],
    }
)
EXPECTED = {(r.path, r.method) for r in ENDPOINTS}


def test_flask_routes():
    import proxy_server

    app = proxy_server.create_app(CONFIG)
    rules = {
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert rules == EXPECTED


def test_fastapi_routes():
    # Plain Starlette routes (proxy_server_fastapi.py says why); /docs, /redoc and their
    # assets are the FastAPI stack's own pages, outside the API's route table.
    from starlette.routing import Mount, Route

    import proxy_server_fastapi

    app = proxy_server_fastapi.create_app(CONFIG)
    pages = {"/docs", "/redoc"}
    routes = {
        (r.path, m)
        for r in app.routes
        if isinstance(r, Route) and r.path not in pages
        for m in (r.methods or set()) - {"HEAD"}
    }
    assert routes == EXPECTED
    assert {r.path for r in app.routes if isinstance(r, Mount)} == {proxy_server_fastapi.DOCS_ASSETS}


def test_importing_the_servers_needs_no_config():
    import proxy_server
    import proxy_server_fastapi

    assert "app" not in vars(proxy_server) or proxy_server.app is not None
    assert callable(proxy_server_fastapi.create_app)
