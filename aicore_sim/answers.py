"""Deterministic answer engine shared by every model family.

Each family parses its own wire format into a :class:`Conversation` (the few facts
that decide the answer), asks :func:`compute_answer` for an :class:`Answer`, and
renders that answer in its own wire format. Keeping the decision in one place means
that a conversation converted by the proxy from one format to another gets the same
answer, so tests can assert conversions end to end.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

__all__ = [
    "Answer",
    "Conversation",
    "compute_answer",
    "count_words",
    "requested_call",
    "schema_args",
    "split_chunks",
    "split_fragments",
    "text_chars",
]

# Keys whose string values are binary payloads (base64), not text: they do not count
# as input characters.
_BINARY_KEYS = frozenset(("data", "bytes"))
_WORD_RE = re.compile(r"\s*\S+\s*")
# How far (in characters, no braces in between) a JSON object may follow a tool's name to
# count as that call's arguments: "Use the Bash tool with {...}".
_REQUEST_GAP = 40


@dataclass(slots=True)
class Conversation:
    """What a request asks for, independent of its wire format."""

    user_text: str = ""
    images: int = 0
    tool_results: list[tuple[str, str]] = field(default_factory=list)
    tools: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    choice: str = "auto"  # auto | none | any | tool
    choice_name: str | None = None
    max_tokens: int | None = None
    stop: list[str] = field(default_factory=list)
    thinking: bool = False
    input_chars: int = 0
    cache_chars: int = 0


@dataclass(slots=True)
class Answer:
    """The model's reply before it is rendered in a family's format."""

    text: str
    thinking: str | None
    tool_name: str | None
    tool_args: dict[str, Any] | None
    finish: str  # stop | length | tool | stop_sequence
    stop_sequence: str | None
    input_tokens: int
    output_tokens: int
    thinking_tokens: int
    cache_read_tokens: int


def text_chars(obj: Any) -> int:
    """Count the characters of every string value (not keys) in a JSON value.

    Base64 payloads (``data``/``bytes`` keys and ``data:`` URLs) are skipped so an image
    does not inflate the token count. Written with ``type() is`` checks: it runs on every call.
    """
    kind = type(obj)
    total = 0
    if kind is str:
        return len(obj)
    if kind is list:
        for value in obj:
            vkind = type(value)
            if vkind is str:
                total += len(value)
            elif vkind is dict or vkind is list:
                total += text_chars(value)
        return total
    if kind is dict:
        for key, value in obj.items():
            vkind = type(value)
            if vkind is str:
                if key in _BINARY_KEYS or (key == "url" and value.startswith("data:")):
                    continue
                total += len(value)
            elif (vkind is dict or vkind is list) and key not in _BINARY_KEYS:
                total += text_chars(value)
    return total


def count_words(text: str | None) -> int:
    """Whitespace-separated words: the simulator's unit of output tokens."""
    return len(text.split()) if text else 0


def _schema_value(name: str, schema: Any) -> Any:
    if not isinstance(schema, dict):
        return f"sim-{name}"
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if str(k).lower() != "null"), None)
    if kind is None:
        any_of = schema.get("anyOf") or schema.get("any_of") or schema.get("oneOf")
        if isinstance(any_of, list) and any_of:
            return _schema_value(name, any_of[0])
        return f"sim-{name}"
    kind = str(kind).lower()
    if kind in ("integer", "number"):
        return 1
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    if kind == "object":
        return {}
    if kind == "null":
        return None
    return f"sim-{name}"


def schema_args(schema: Any) -> dict[str, Any]:
    """Arguments for a tool call: each required property (all if none are required) gets a typed value."""
    if not isinstance(schema, dict):
        return {}
    props = schema.get("properties")
    if not isinstance(props, dict):
        props = {}
    required = schema.get("required")
    names = required if isinstance(required, list) and required else list(props)
    return {str(n): _schema_value(str(n), props.get(n)) for n in names}


def requested_call(text: str, tools: list[tuple[str, dict[str, Any]]]) -> tuple[str, dict[str, Any]] | None:
    """A tool call the user text spells out: a tool's name, then within a few words a JSON object.

    Not a behaviour of any real service but the simulator's test convention (docs/simulator.md,
    "Tool call"): the schema-derived arguments (``"sim-command"``) are valid JSON but nothing a
    real agent can execute, so a test that drives a real coding agent through a tool round
    trip writes the call it wants, e.g. ``Use the Bash tool with {"command": "echo hi"}``.
    The first such name-and-object pair in the text wins; the object's keys are laid over
    the schema-derived arguments, so every required property is still present.
    """
    names = sorted({name for name, _ in tools if name}, key=len, reverse=True)
    if not names or "{" not in text:
        return None
    name_re = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, names)) + r")(?![\w-])")
    reach = _REQUEST_GAP + len(names[0])
    for brace in re.finditer(r"\{", text):
        pos = brace.start()
        # The name nearest before the brace, with no other brace and at most a few words between.
        window = max(text.rfind("{", 0, pos), text.rfind("}", 0, pos)) + 1
        last = None
        for found in name_re.finditer(text, max(window, pos - reach), pos):
            last = found
        if last is None or pos - last.end() > _REQUEST_GAP:
            continue
        args = _json_object_at(text, pos)
        if args is not None:
            schema = next(s for n, s in tools if n == last.group(1))
            return last.group(1), {**schema_args(schema), **args}
    return None


def _json_object_at(text: str, start: int) -> dict[str, Any] | None:
    """The JSON object that begins at ``text[start]`` (braces balanced outside strings), else None."""
    depth, in_string, escaped = 0, False, False
    for pos in range(start, len(text)):
        char = text[pos]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                try:
                    value = orjson.loads(text[start : pos + 1])
                except orjson.JSONDecodeError:
                    return None
                return value if isinstance(value, dict) else None
    return None


def _pick_tool(conv: Conversation) -> tuple[str, dict[str, Any]] | None:
    if not conv.tools or conv.choice == "none":
        return None
    if conv.choice == "tool" and conv.choice_name:
        for tool in conv.tools:
            if tool[0] == conv.choice_name:
                return tool
        return (conv.choice_name, {})
    text = conv.user_text
    mentioned = next((t for t in conv.tools if t[0] and t[0] in text), None)
    if mentioned is None and conv.choice in ("any", "tool"):
        return conv.tools[0]
    return mentioned


def _limit(text: str, conv: Conversation) -> tuple[str, str, str | None]:
    """Apply stop sequences, then the output-token (word) budget."""
    finish, matched = "stop", None
    if conv.stop:
        cut = -1
        for seq in conv.stop:
            if not seq:
                continue
            pos = text.find(seq)
            if pos >= 0 and (cut < 0 or pos < cut):
                cut, matched = pos, seq
        if matched is not None:
            text, finish = text[:cut], "stop_sequence"
    if conv.max_tokens is not None:
        words = text.split()
        if len(words) > conv.max_tokens:
            return " ".join(words[: conv.max_tokens]), "length", None
    return text, finish, matched


def compute_answer(model: str, conv: Conversation, preamble: bool = False) -> Answer:
    """Decide the reply for a conversation.

    ``preamble`` adds the short ``Calling <tool>.`` text block that Claude emits before a
    tool call.
    """
    tool_name: str | None = None
    tool_args: dict[str, Any] | None = None
    stop_seq: str | None = None
    if conv.tool_results:
        text = "; ".join(f"Tool {name} returned: {result}" for name, result in conv.tool_results)
        text, finish, stop_seq = _limit(text, conv)
    else:
        forced = conv.choice == "tool" and conv.choice_name
        requested = None if conv.choice == "none" or forced else requested_call(conv.user_text, conv.tools)
        tool = _pick_tool(conv) if requested is None else None
        if requested is not None or tool is not None:
            if requested is not None:
                tool_name, tool_args = requested
            else:
                assert tool is not None
                tool_name, tool_args = tool[0], schema_args(tool[1])
            text, finish = (f"Calling {tool_name}." if preamble else ""), "tool"
        else:
            text = f"{model} says: {conv.user_text}"
            if conv.images:
                text += f" [images: {conv.images}]"
            text, finish, stop_seq = _limit(text, conv)
    thinking = f"Thinking about: {conv.user_text}" if conv.thinking else None
    thinking_tokens = count_words(thinking)
    output = count_words(text) + thinking_tokens
    if tool_args is not None:
        output += math.ceil(len(orjson.dumps(tool_args)) / 4)
    return Answer(
        text=text,
        thinking=thinking,
        tool_name=tool_name,
        tool_args=tool_args,
        finish=finish,
        stop_sequence=stop_seq,
        input_tokens=max(1, math.ceil(conv.input_chars / 4)),
        output_tokens=output,
        thinking_tokens=thinking_tokens,
        cache_read_tokens=math.ceil(conv.cache_chars / 4),
    )


def split_chunks(text: str | None, chunks: int = 0) -> list[str]:
    """Split streamed text: one piece per word (keeping its following space) or ``chunks`` even pieces."""
    if not text:
        return []
    if chunks <= 0:
        return _WORD_RE.findall(text)
    n = min(chunks, len(text))
    size, extra = divmod(len(text), n)
    out, pos = [], 0
    for i in range(n):
        step = size + (1 if i < extra else 0)
        out.append(text[pos : pos + step])
        pos += step
    return out


def split_fragments(payload: str) -> list[str]:
    """Split a JSON string into 2-3 fragments, as streamed tool-call arguments arrive."""
    if len(payload) < 2:
        return [payload]
    parts = 3 if len(payload) >= 6 else 2
    return split_chunks(payload, parts)
