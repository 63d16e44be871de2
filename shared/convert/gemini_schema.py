"""The Vertex request's options: tool declarations, tool choice, generation config, schemas.

Everything in a Gemini request except the conversation itself is built here, mostly
around one problem: agents send tool schemas produced by zod, pydantic or MCP servers
(``$schema``, ``additionalProperties``, ``$defs``/``$ref``, ``const``,
``type: ["string", "null"]``), and Vertex refuses each of those with an ``Unknown name``
400 the client cannot fix. So schemas are rebuilt from the keys Vertex knows
(:data:`SCHEMA_KEYS`), translating where a faithful translation exists (local references
inlined, null types turned into ``nullable``, ``const`` into ``enum``) and dropping
where none does (``additionalProperties``, ``examples``, unknown formats). Inputs are
never modified; every node of the result is a new dict.
"""

from __future__ import annotations

import re
from typing import Any

from shared.adjustments import Adjustments, adapted, dropped
from shared.capabilities import Capabilities
from shared.convert.common import max_output_tokens, stop_sequences
from shared.errors import InvalidRequest
from shared.jsonutil import dumps_str

__all__ = ["SCHEMA_KEYS", "THINKING_BUDGETS", "function_declarations", "function_parameters", "thinking_config"]
__all__ += ["generation_config", "sanitize_schema", "tool_config"]

# reasoning_effort -> thinkingBudget (Gemini 2.5); clamped into the model's range.
THINKING_BUDGETS = {"none": 0, "minimal": 0, "low": 1024, "medium": 4096, "high": 16384, "xhigh": 24576, "max": 32768}
_MODES = {"auto": "AUTO", "required": "ANY", "none": "NONE"}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,63}")  # Vertex's rule; OpenAI also allows a leading digit
SCHEMA_KEYS = frozenset(
    "type format description nullable enum properties required items minItems maxItems minimum maximum "
    "anyOf propertyOrdering title minLength maxLength pattern default example".split()
)
_TYPES = frozenset(("string", "number", "integer", "boolean", "array", "object"))
# Vertex refuses any other ``format`` (``uri``, ``email``, ...) for these types.
_FORMATS = {"string": ("enum", "date-time"), "number": ("float", "double"), "integer": ("int32", "int64")}
_COUNTS = ("minItems", "maxItems", "minLength", "maxLength")
_MAX_DEPTH = 40  # deeper schemas are refused rather than risk unbounded recursion
_MAX_REFS = 8  # nested $ref expansions on one path; a cycle is cut at its first repeat


def sanitize_schema(schema: Any, where: str) -> dict[str, Any]:
    """The Vertex form of ``schema``; ``where`` names the field in error messages."""
    if not isinstance(schema, dict):
        raise InvalidRequest(f"{where} must be a JSON Schema object", param=where)
    return _Sanitizer(schema).node(schema, where, (), 0)


def function_parameters(schema: Any, where: str) -> dict[str, Any] | None:
    """A tool's ``parameters``, or None when it declares no arguments.

    Vertex refuses an object schema without properties for a declaration, and a
    declaration without ``parameters`` means the same thing to the model.
    """
    if schema is None:
        return None
    out = sanitize_schema(schema, where)
    if out.get("type", "object") == "object" and not out.get("properties") and "anyOf" not in out:
        return None
    return out


class _Sanitizer:
    """Holds the root schema so local ``$ref`` pointers can be resolved against it."""

    __slots__ = ("_root",)

    def __init__(self, root: dict[str, Any]) -> None:
        self._root = root

    def node(self, s: Any, where: str, refs: tuple[str, ...], depth: int) -> dict[str, Any]:
        if depth > _MAX_DEPTH:
            raise InvalidRequest(f"{where}: schema is nested too deeply", param=where)
        if s is True:
            return {}
        if not isinstance(s, dict):
            raise InvalidRequest(f"{where} must be a JSON Schema object", param=where)
        if "$ref" in s:
            ref = s["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#"):
                raise InvalidRequest(f"{where}.$ref: only local references (#/...) are supported", param=where)
            if ref in refs or len(refs) >= _MAX_REFS:
                return {"type": "object"}  # recursive structure: cut it off, keep the rest usable
            target = self._resolve(ref, where)
            merged = {**target, **{k: v for k, v in s.items() if k != "$ref"}}
            return self.node(merged, where, (*refs, ref), depth + 1)
        return self._build(s, where, refs, depth)

    def _resolve(self, ref: str, where: str) -> dict[str, Any]:
        doc: Any = self._root
        for token in ref[1:].lstrip("/").split("/") if ref != "#" else []:
            key = token.replace("~1", "/").replace("~0", "~")
            doc = doc.get(key) if isinstance(doc, dict) else None
        if not isinstance(doc, dict):
            raise InvalidRequest(f"{where}.$ref: '{ref}' does not point to a schema in this document", param=where)
        return doc

    def _build(self, s: dict[str, Any], where: str, refs: tuple[str, ...], depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        nullable = s.get("nullable") is True
        type_, nullable, type_branches = _read_type(s.get("type"), nullable)
        if type_ is not None:
            out["type"] = type_
        for key in ("title", "description", "pattern"):
            if isinstance(s.get(key), str):
                out[key] = s[key]
        for key in ("default", "example"):
            if key in s and s[key] is not None:
                out[key] = s[key]
        for key in ("minimum", "maximum"):
            if isinstance(s.get(key), int | float) and not isinstance(s[key], bool):
                out[key] = s[key]
        for key in _COUNTS:
            if isinstance(s.get(key), int) and not isinstance(s[key], bool) and s[key] >= 0:
                out[key] = s[key]
        nullable = _enum(s, out, nullable)
        props = s.get("properties")
        if props is not None:
            if not isinstance(props, dict):
                raise InvalidRequest(f"{where}.properties must be an object", param=where)
            out["properties"] = {
                name: self.node(sub, f"{where}.properties.{name}", refs, depth + 1) for name, sub in props.items()
            }
            out.setdefault("type", "object")
            names = [n for n in s.get("required") or [] if isinstance(n, str) and n in props]
            if names:
                out["required"] = names
            order = [n for n in s.get("propertyOrdering") or [] if isinstance(n, str) and n in props]
            if order:
                out["propertyOrdering"] = order
        items = s.get("items")
        if isinstance(items, list):  # draft-4 tuple form: any of the listed item schemas
            items = items[0] if len(items) == 1 else {"anyOf": items} if items else True
        if items is not None:
            out["items"] = self.node(items, f"{where}.items", refs, depth + 1)
            out.setdefault("type", "array")
        fmt = s.get("format")
        if isinstance(fmt, str) and fmt in _FORMATS.get(out.get("type", ""), ()):
            out["format"] = fmt
        branches = s.get("anyOf", s.get("oneOf"))
        if isinstance(branches, list) or type_branches:
            subs = branches if isinstance(branches, list) else type_branches
            kept = []
            for k, sub in enumerate(subs):
                node = self.node(sub, f"{where}.anyOf[{k}]", refs, depth + 1)
                if node == {"nullable": True}:
                    nullable = True  # {"type": "null"} branch
                else:
                    kept.append(node)
            out = _merge(out, kept[0]) if len(kept) == 1 else {**out, "anyOf": kept} if kept else out
        if isinstance(s.get("allOf"), list):
            for k, sub in enumerate(s["allOf"]):
                out = _merge(out, self.node(sub, f"{where}.allOf[{k}]", refs, depth + 1))
        if out.get("type") == "object" and not out.get("properties"):
            out.pop("properties", None)
        if nullable:
            out["nullable"] = True
        return out


def _read_type(value: Any, nullable: bool) -> tuple[str | None, bool, list[Any]]:
    """(single type, nullable, anyOf branches for a multi-type list) from JSON Schema ``type``."""
    names = value if isinstance(value, list) else [value] if isinstance(value, str) else []
    types = [t.lower() for t in names if isinstance(t, str) and t.lower() in _TYPES]
    nullable = nullable or any(isinstance(t, str) and t.lower() == "null" for t in names)
    if len(types) > 1:
        return None, nullable, [{"type": t} for t in types]
    return (types[0] if types else None), nullable, []


def _enum(s: dict[str, Any], out: dict[str, Any], nullable: bool) -> bool:
    """``enum``/``const`` -> a string ``enum``; Vertex takes string enums only, so others become a hint."""
    values = [s["const"]] if "const" in s else s.get("enum")
    if not isinstance(values, list):
        return nullable
    nullable = nullable or None in values
    values = [v for v in values if v is not None]
    if values and all(isinstance(v, str) for v in values):
        out["enum"] = list(values)
        out.setdefault("type", "string")
    elif values:
        hint = "Allowed values: " + ", ".join(dumps_str(v) for v in values)
        out["description"] = f"{out['description']} ({hint})" if "description" in out else hint
    return nullable


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Fold ``extra`` into ``base``: properties and required are united, other keys kept from base."""
    out = dict(base)
    for key, value in extra.items():
        if key == "properties" and isinstance(out.get(key), dict):
            out[key] = {**out[key], **{k: v for k, v in value.items() if k not in out[key]}}
        elif key == "required" and isinstance(out.get(key), list):
            out[key] = out[key] + [n for n in value if n not in out[key]]
        else:
            out.setdefault(key, value)
    return out


def function_declarations(tools: Any) -> list[dict[str, Any]]:
    """OpenAI ``tools`` -> Vertex ``functionDeclarations`` (function tools only)."""
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise InvalidRequest("'tools' must be an array", param="tools")
    out = []
    for i, tool in enumerate(tools):
        fn = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(fn, dict) or tool.get("type", "function") != "function":
            raise InvalidRequest(f"tools[{i}]: Gemini models support function tools only", param=f"tools[{i}]")
        if not isinstance(fn.get("name"), str) or not _NAME.fullmatch(fn["name"]):
            raise InvalidRequest(
                f"tools[{i}].function.name must start with a letter or '_' and use only letters, digits, "
                "'_', '.' and '-' (at most 64 characters) for Gemini models",
                param=f"tools[{i}].function.name",
            )
        decl: dict[str, Any] = {"name": fn["name"]}
        if isinstance(fn.get("description"), str) and fn["description"]:
            decl["description"] = fn["description"]
        params = function_parameters(fn.get("parameters"), f"tools[{i}].function.parameters")
        if params is not None:
            decl["parameters"] = params
        out.append(decl)
    return out


def tool_config(choice: Any, declared: set[str]) -> dict[str, Any] | None:
    """OpenAI ``tool_choice`` -> Vertex ``toolConfig``; a forced function must be one that was declared."""
    if choice is None or (not declared and choice in ("auto", "none")):
        return None
    if not declared:
        raise InvalidRequest("tool_choice needs 'tools'", param="tool_choice")
    if isinstance(choice, str) and choice in _MODES:
        return {"functionCallingConfig": {"mode": _MODES[choice]}}
    fn = choice.get("function") if isinstance(choice, dict) and choice.get("type") == "function" else None
    name = fn.get("name") if isinstance(fn, dict) else None
    if not isinstance(name, str) or name not in declared:
        raise InvalidRequest(
            "tool_choice must be 'auto', 'required', 'none' or a function declared in 'tools'", param="tool_choice"
        )
    return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}


def _response_format(fmt: Any, cfg: dict[str, Any]) -> None:
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if fmt is None or kind == "text":
        return
    if kind == "json_object":
        cfg["responseMimeType"] = "application/json"
    elif kind == "json_schema" and isinstance(fmt.get("json_schema"), dict):
        cfg["responseMimeType"] = "application/json"
        schema = fmt["json_schema"].get("schema")
        if schema is not None:
            cfg["responseSchema"] = sanitize_schema(schema, "response_format.json_schema.schema")
    else:
        raise InvalidRequest(
            "response_format must be {type: text|json_object} or {type: json_schema, json_schema: {...}}",
            param="response_format",
        )


def generation_config(
    body: dict[str, Any],
    default_max_tokens: int | None,
    caps: Capabilities,
    adjustments: Adjustments | None = None,
) -> dict[str, Any]:
    """Vertex ``generationConfig`` (may be empty). Only fields Vertex knows; unknown OpenAI ones are ignored."""
    cfg: dict[str, Any] = {}
    limit = max_output_tokens(body)
    if limit is None:
        limit = default_max_tokens
    if limit is not None and caps.max_output_tokens is not None and limit > caps.max_output_tokens:
        adapted(adjustments, "max_tokens", f"{limit} capped at {caps.max_output_tokens}, the model's output limit")
        limit = caps.max_output_tokens
    if limit is not None:
        cfg["maxOutputTokens"] = limit
    for key, name in (("temperature", "temperature"), ("top_p", "topP"), ("top_k", "topK")):
        value = body.get(key)
        if value is None:
            continue
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise InvalidRequest(f"{key} must be a non-negative number", param=key)
        cfg[name] = value
    stop = [s for s in stop_sequences(body) or [] if s]
    if stop:
        cfg["stopSequences"] = stop
    n = body.get("n")
    if n is not None:
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise InvalidRequest("n must be a positive integer", param="n")
        if n > 1:
            raise InvalidRequest("n > 1 is not supported for Gemini models: one choice only", param="n")
        cfg["candidateCount"] = 1
    if body.get("logprobs") is True:
        raise InvalidRequest("logprobs are not available for Gemini models", param="logprobs")
    _response_format(body.get("response_format"), cfg)
    if (thinking := thinking_config(body.get("reasoning_effort"), caps, adjustments)) is not None:
        cfg["thinkingConfig"] = thinking
    return cfg


def thinking_config(effort: Any, caps: Capabilities, adjustments: Adjustments | None) -> dict[str, Any] | None:
    """``reasoning_effort`` as the generation's ``thinkingConfig``.

    Gemini 2.5 takes ``thinkingBudget`` within a range per model (Pro cannot turn thinking
    off, so ``minimal`` gets its smallest budget); Gemini 3 takes ``thinkingLevel`` (Pro:
    low or high), so every effort maps to the nearest level
    (https://ai.google.dev/gemini-api/docs/thinking).
    """
    if effort is None:
        return None
    if not isinstance(effort, str) or effort not in THINKING_BUDGETS:
        raise InvalidRequest(f"reasoning_effort must be one of {', '.join(THINKING_BUDGETS)}", param="reasoning_effort")
    if caps.thinking_config == "level":
        wanted = "minimal" if effort == "none" else "high" if effort in ("xhigh", "max") else effort
        level = caps.nearest_thinking_level(wanted) or "high"
        if level != effort:
            adapted(adjustments, "reasoning_effort", f"{effort} -> thinkingLevel {level}")
        return {"thinkingLevel": level, "includeThoughts": True}
    if caps.thinking_config == "budget":
        low, high = caps.thinking_budget_range or (0, 24576)
        budget = min(max(THINKING_BUDGETS[effort], low), high)
        if budget == 0:
            return {"thinkingBudget": 0}
        return {"thinkingBudget": budget, "includeThoughts": True}
    dropped(adjustments, "reasoning_effort", "the model has no thinking configuration")
    return None
