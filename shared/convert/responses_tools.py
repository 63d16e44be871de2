"""Responses-API tools as a chat upstream sees them, and the way back to the client's names.

Codex sends, on every turn, function and freeform (``custom``) tools, a ``namespace``
tool grouping function tools (``multi_agent_v1``) and OpenAI's hosted tools
(``web_search`` ...). Chat upstreams know flat function tools only, so:

* a tool inside a namespace becomes a function tool named ``<namespace>__<name>``, cut
  to the rules every family shares (``[A-Za-z0-9_-]``, a letter or ``_`` first, at most
  64 characters; a short hash keeps cut names unique), and a call to it goes back to
  the client under its own name with ``namespace`` set — streamed or not;
* hosted tools, which only OpenAI's servers can run, and tool types this proxy does not
  know are left out of the upstream request and reported in the request's adjustments;
* freeform tools become function tools with one string argument ``input``, and their
  calls go back as ``custom_tool_call`` items.

:func:`tool_catalog` is a pure function of the request, so the request and the answer
side each build the same catalog from the same body.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from shared.adjustments import Adjustments, dropped
from shared.errors import InvalidRequest

__all__ = ["HOSTED_TOOLS", "ClientTool", "ToolCatalog", "flat_name", "tool_catalog"]

# Run by OpenAI's servers; SAP AI Core has nothing to run them with.
HOSTED_TOOLS = frozenset(
    ("web_search", "web_search_preview", "file_search", "code_interpreter", "image_generation", "mcp")
    + ("tool_search", "programmatic_tool_calling", "computer_use_preview", "computer")
)
_MAX_NAME = 64
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_CUSTOM_PARAMETERS = {"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"]}


@dataclass(frozen=True, slots=True)
class ClientTool:
    """A tool as the client named it."""

    name: str
    namespace: str | None = None
    custom: bool = False  # freeform: calls go back as custom_tool_call with a raw ``input``


@dataclass(slots=True)
class ToolCatalog:
    """The chat tools for the upstream, and each upstream name's client tool."""

    chat_tools: list[dict[str, Any]] = field(default_factory=list)
    by_upstream: dict[str, ClientTool] = field(default_factory=dict)

    def client_tool(self, upstream_name: str) -> ClientTool:
        """The client's tool for a call the upstream made (an unknown name is passed on as it is)."""
        return self.by_upstream.get(upstream_name) or ClientTool(upstream_name)

    def upstream_name(self, name: str, namespace: str | None) -> str:
        return name if namespace is None else flat_name(namespace, name)


def flat_name(namespace: str, name: str) -> str:
    """``<namespace>__<name>`` within the name rules of every upstream family."""
    joined = _UNSAFE.sub("_", f"{namespace}__{name}")
    if not (joined[0].isalpha() or joined[0] == "_"):
        joined = f"_{joined}"
    if len(joined) <= _MAX_NAME:
        return joined
    digest = hashlib.sha256(f"{namespace}\0{name}".encode()).hexdigest()[:8]
    return f"{joined[: _MAX_NAME - 9]}_{digest}"


def tool_catalog(tools: Any, adjustments: Adjustments | None = None) -> ToolCatalog:
    """The catalog of a Responses body's ``tools``; a malformed client tool is a 400 naming it."""
    if tools is not None and not isinstance(tools, list):
        raise InvalidRequest("tools: must be a list of tools", param="tools")
    catalog = ToolCatalog()
    for i, tool in enumerate(tools or ()):
        where = f"tools[{i}]"
        kind = tool.get("type") if isinstance(tool, dict) else None
        if not isinstance(kind, str):
            raise InvalidRequest(f"{where}.type: a tool must be an object with a type", param=f"{where}.type")
        if kind in ("function", "custom"):
            _add(catalog, tool, None, where)
        elif kind == "namespace":
            namespace = _string(tool, "name", where)
            inner = tool.get("tools")
            if not isinstance(inner, list):
                raise InvalidRequest(f"{where}.tools: must be a list of tools", param=f"{where}.tools")
            for j, member in enumerate(inner):
                at = f"{where}.tools[{j}]"
                member_kind = member.get("type") if isinstance(member, dict) else None
                if member_kind in ("function", "custom"):
                    _add(catalog, member, namespace, at)
                else:
                    dropped(adjustments, "tools", f"{at}: tool type {member_kind!r} inside a namespace")
        elif kind in HOSTED_TOOLS:
            dropped(adjustments, "tools", f"{where}: hosted tool {kind} runs only on OpenAI's servers")
        else:
            dropped(adjustments, "tools", f"{where}: tool type {kind!r} is not available through SAP AI Core")
    return catalog


def _string(tool: dict[str, Any], key: str, where: str) -> str:
    value = tool.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"{where}.{key}: must be a non-empty string", param=f"{where}.{key}")
    return value


def _add(catalog: ToolCatalog, tool: dict[str, Any], namespace: str | None, where: str) -> None:
    name = _string(tool, "name", where)
    upstream = catalog.upstream_name(name, namespace)
    description = tool.get("description")
    if description is not None and not isinstance(description, str):
        raise InvalidRequest(f"{where}.description: must be a string", param=f"{where}.description")
    custom = tool["type"] == "custom"
    if custom:
        parameters: Any = _CUSTOM_PARAMETERS
        description = _custom_description(description or "", tool.get("format"), f"{where}.format")
    else:
        parameters = tool.get("parameters") or {"type": "object", "properties": {}}
        if not isinstance(parameters, dict):
            raise InvalidRequest(f"{where}.parameters: must be a JSON schema object", param=f"{where}.parameters")
    if upstream in catalog.by_upstream:
        raise InvalidRequest(f"{where}.name: '{name}' is declared twice", param=f"{where}.name")
    catalog.by_upstream[upstream] = ClientTool(name, namespace, custom)
    fn = {"name": upstream, **({"description": description} if description else {}), "parameters": parameters}
    catalog.chat_tools.append({"type": "function", "function": fn})


def _custom_description(description: str, fmt: Any, where: str) -> str:
    """A freeform tool's input rules in words, since the upstream only knows JSON arguments."""
    note = "Put the tool's raw input text, not JSON, in the string argument `input`."
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind == "grammar":
        syntax, definition = fmt.get("syntax"), fmt.get("definition")
        if not isinstance(syntax, str) or not isinstance(definition, str):
            raise InvalidRequest(f"{where}: a grammar format needs a string syntax and definition", param=where)
        note += f" The input must follow this {syntax} grammar:\n{definition}"
    elif fmt is not None and kind != "text":
        raise InvalidRequest(f"{where}.type: must be text or grammar", param=f"{where}.type")
    return f"{description}\n\n{note}" if description else note
