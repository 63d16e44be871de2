"""Per-family wire formats: validation, rendering and the suffixes each family serves."""

from __future__ import annotations

from collections.abc import Callable

from aicore_sim.families.base import Call, Outcome
from aicore_sim.families.claude import handle_invoke
from aicore_sim.families.converse import handle_converse
from aicore_sim.families.embeddings import handle_embeddings
from aicore_sim.families.gemini import handle_generate
from aicore_sim.families.openai import handle_chat
from aicore_sim.topology import Deployment

__all__ = ["HANDLERS", "Call", "Outcome", "route"]

HANDLERS: dict[str, Callable[[Call], Outcome]] = {
    "chat": handle_chat,
    "embeddings": handle_embeddings,
    "invoke": handle_invoke,
    "converse": handle_converse,
    "generate": handle_generate,
}

_CLAUDE = {
    "invoke": ("invoke", False),
    "invoke-with-response-stream": ("invoke", True),
    "converse": ("converse", False),
    "converse-stream": ("converse", True),
}


def route(dep: Deployment, suffix: str) -> tuple[str, bool | None] | None:
    """``(action, streaming)`` for a URL suffix, None if the family does not serve it.

    Streaming is None for OpenAI chat, where the body's ``stream`` flag decides.
    """
    if dep.family == "openai":
        if dep.kind == "embeddings":
            return ("embeddings", False) if suffix == "embeddings" else None
        return ("chat", None) if suffix == "chat/completions" else None
    if dep.family == "claude":
        return _CLAUDE.get(suffix)
    if suffix.startswith("models/"):
        model, _, method = suffix[7:].rpartition(":")
        if model == dep.model:
            if method == "generateContent":
                return ("generate", False)
            if method == "streamGenerateContent":
                return ("generate", True)
    return None
