"""``proxyctl models``: model -> family (and what decided it) -> upstream API -> sub-accounts -> deployments.

Reads the config with the proxy's own loader and, without network, the deployment
listings in the disk cache the proxy keeps (``discovery.cache_dir``): so the table shows
what start-up would decide — a family from ``model_settings`` (``settings``), from the
deployment's backend model (``listing``) or, without a listing, from the name (``name``).
``--refresh`` clears that cache and asks SAP AI Core again, as start-up would.
Aliases show as ``alias → target``; names removed by ``model_filters`` are marked.
"""

from __future__ import annotations

import argparse
import os
import sys

from proxyctl.runstate import CliError
from shared.catalog import ModelCatalog, ModelEntry
from shared.config import ConfigError, ProxyConfig, config_path
from shared.transports.discovery_http import REFRESH_ENV, load_config_with_discovery

__all__ = ["add_parser", "models_table", "run"]

HEADER = ("MODEL", "FAMILY", "SOURCE", "API", "SUB-ACCOUNTS", "DEPLOYMENTS", "NOTE")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "models", help="table of models, families (and their source), upstream APIs, sub-accounts and deployments"
    )
    p.add_argument("--config", help="config file (default: $PROXY_CONFIG or ./config.json)")
    p.add_argument(
        "--refresh",
        action="store_true",
        help="clear the deployment-discovery cache the proxy reads, discover again and show the result",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    path = args.config or config_path(os.environ)
    env = {**os.environ, REFRESH_ENV: "1"} if args.refresh else dict(os.environ)
    try:
        config = load_config_with_discovery(path, env, warn=_warn, network=args.refresh)
    except ConfigError as exc:
        raise CliError(str(exc)) from exc
    print(models_table(config))
    return 0


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _api(route: ModelEntry) -> str:
    if route.family == "claude":
        return route.claude_api
    if route.family == "gemini":
        return f"gemini ({route.upstream_model})"
    kind = "embeddings" if route.kind == "embeddings" else "chat"
    return f"{kind} api-version {route.api_version}"


def _deployment_id(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def models_table(config: ProxyConfig) -> str:
    """The table as text: one row per configured model, then one per alias."""
    catalog = ModelCatalog(config)
    names = config.name_table()
    rows: list[tuple[str, ...]] = [HEADER]

    def row(label: str, model: str, note: str) -> tuple[str, ...]:
        route = catalog.configured_entry(model)
        subs = [s for s in config.sub_accounts if model in s.deployments]
        deployments = [_deployment_id(u) for s in subs for u in s.deployments[model]]
        subs_text = ",".join(s.name for s in subs)
        return (label, route.family, route.family_source, _api(route), subs_text, ",".join(deployments), note)

    for model in config.model_names:
        notes = []
        shown = names.display[model]
        if shown != model:
            notes.append(f"listed as {shown}")
        if model in names.hidden:
            notes.append("filtered")
        elif shown in names.hidden:
            notes.append(f"{shown} filtered")
        rows.append(row(model, model, "; ".join(notes)))
    for alias, target in names.aliases.items():
        rows.append(row(f"{alias} → {target}", target, "filtered" if alias in names.hidden else ""))
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)
