"""``proxyctl parity``: replay a request corpus against two running stacks and diff them.

Each corpus file is ``{"name", "method", "path", "body"?}``. Both stacks get the same
requests; answers are compared after normalising what legitimately differs (ids,
timestamps, fingerprints), streams event by event. Used by the contract suite and by
operators against staging or a production canary.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Answer", "add_parser", "diff", "load_corpus", "normalize", "replay", "run"]

# Package data (one request per JSON file), so an installed proxyctl carries its corpus.
DEFAULT_CORPUS = Path(__file__).resolve().parent / "corpus"
# ... and "signature": a thinking block's signature is minted per answer by the upstream.
VOLATILE_KEYS = {"id", "created", "created_at", "system_fingerprint", "tool_call_id", "call_id", "item_id", "signature"}


@dataclass
class Answer:
    status: int
    content_type: str
    body: Any  # normalised JSON, or a list of (event, normalised data) for streams


def normalize(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ("<volatile>" if k in VOLATILE_KEYS else normalize(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize(v) for v in value]
    return value


def load_corpus(directory: Path) -> list[dict[str, Any]]:
    files = sorted(directory.glob("*.json"))
    if not files:
        raise FileNotFoundError(f"no *.json requests in {directory}")
    return [json.loads(p.read_text()) for p in files]


def replay(base_url: str, key: str, request: dict[str, Any], timeout: float = 60) -> Answer:
    data = json.dumps(request["body"]).encode() if "body" in request else None
    req = urllib.request.Request(
        base_url.rstrip("/") + request["path"],
        data=data,
        method=request.get("method", "POST"),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, ctype, raw = resp.status, resp.headers.get("content-type", ""), resp.read()
    except urllib.error.HTTPError as err:
        status, ctype, raw = err.code, err.headers.get("content-type", ""), err.read()
    if ctype.startswith("text/event-stream"):
        return Answer(status, "text/event-stream", _sse_events(raw))
    try:
        body: Any = normalize(json.loads(raw))
    except ValueError:
        body = raw.decode("utf-8", "replace")
    return Answer(status, ctype.split(";")[0], body)


def _sse_events(raw: bytes) -> list[tuple[str | None, Any]]:
    events: list[tuple[str | None, Any]] = []
    for block in raw.decode("utf-8").replace("\r\n", "\n").split("\n\n"):
        name, data = None, []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
        if data:
            text = "\n".join(data)
            try:
                events.append((name, normalize(json.loads(text))))
            except ValueError:
                events.append((name, text))
    return events


def diff(a: Answer, b: Answer) -> list[str]:
    """Human-readable differences; empty when the answers match."""
    out = []
    if a.status != b.status:
        out.append(f"status {a.status} != {b.status}")
    if a.content_type != b.content_type:
        out.append(f"content-type {a.content_type} != {b.content_type}")
    if isinstance(a.body, list) and isinstance(b.body, list) and a.content_type == "text/event-stream":
        if len(a.body) != len(b.body):
            out.append(f"stream has {len(a.body)} events != {len(b.body)}")
        for i, (ea, eb) in enumerate(zip(a.body, b.body, strict=False)):
            if ea != eb:
                out.append(f"event {i}: {json.dumps(ea)} != {json.dumps(eb)}")
                break
    elif a.body != b.body:
        out.append(f"body {json.dumps(a.body)[:300]} != {json.dumps(b.body)[:300]}")
    return out


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("parity", help="replay a request corpus against two stacks and report differences")
    p.add_argument("--a", required=True, help="base URL of the first stack, e.g. http://127.0.0.1:3001")
    p.add_argument("--b", required=True, help="base URL of the second stack")
    p.add_argument("--key", required=True, help="API key accepted by both")
    p.add_argument(
        "--corpus", type=Path, default=DEFAULT_CORPUS, help=f"directory of requests (default {DEFAULT_CORPUS})"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        corpus = load_corpus(args.corpus)
    except (OSError, ValueError) as exc:
        print(f"proxyctl parity: {exc}", file=sys.stderr)
        return 2
    failures = 0
    for request in corpus:
        try:
            problems = diff(replay(args.a, args.key, request), replay(args.b, args.key, request))
        except OSError as exc:
            problems = [f"request failed: {exc}"]
        status = "ok  " if not problems else "DIFF"
        print(f"{status} {request.get('name', request['path'])}")
        for line in problems:
            print(f"     {line}")
        failures += bool(problems)
    print(f"{len(corpus) - failures}/{len(corpus)} identical")
    return 1 if failures else 0
