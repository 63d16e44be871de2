"""A deterministic input-token estimate for ``POST /v1/messages/count_tokens``.

Why an estimate: Bedrock behind SAP AI Core has no token-counting call, Claude's
tokenizer is not public, and Claude Code only uses the number to decide when to
compact its context and to show a gauge. A count that is roughly right, never
refuses a body the Messages API accepts and costs no upstream call is worth more
than a 404 (what the old proxies answered).

How it counts:

* Text: about 3.5 characters per token for prose, 3.0 when at least 5% of the
  characters are code/JSON punctuation (``{}[]();=<>"``) — symbols rarely merge into
  longer tokens. Characters outside ASCII add half a token per extra UTF-8 byte, so a
  CJK character (3 bytes) counts about 1.3 tokens and an accented letter about 0.8.
* JSON (tool inputs, tool schemas, unknown blocks): the compact JSON text at 3.0.
* Images: a flat 1,600 tokens, Anthropic's figure for an image near the size limit
  (``width * height / 750``, capped); the proxy does not decode images to measure them.
* PDFs: 3,000 tokens per page (page text plus the page image); pages are counted from
  the ``/Type /Page`` objects in the decoded file, or guessed at one per 60 kB when the
  page tree is compressed.
* Overheads: 4 per request, 3 per message, 1 per content block, 12 per tool call, 8 per
  tool result, 10 per tool definition, and the tool-use system prompt Anthropic
  documents for Claude 3.7/4 models (346 tokens with ``auto``/``none``, 313 with
  ``any``/``tool``) whenever tools are given. Thinking blocks count only in the last
  assistant message: Anthropic drops the ones of earlier turns from the context.

Expected accuracy: it is an estimate, reasoned from published characters-per-token
figures and never measured against Claude's tokenizer (which is not public); Claude
model generations also tokenise differently. For English prose and the code-and-JSON
mix of a Claude Code session expect it within about ±20–25% of what the model
reports. The overheads are approximations, so very short requests (a few dozen
tokens) can be off by 50% or more either way. It is further off for non-Latin scripts
(±50%: scripts tokenise very differently), heavily indented code and base64-like
strings (counted high), images far from the size limit (a small image counts 1,600
where the model counts a few hundred) and PDFs (page density varies by a factor of
two or more). The ratios are chosen to err high rather than low, so that Claude Code
compacts a little early rather than overflowing the context window.
"""

from __future__ import annotations

import binascii
import math
import re
from base64 import b64decode
from typing import Any

from shared.convert.anthropic_messages import block_list, check_messages, system_texts
from shared.errors import InvalidRequest
from shared.jsonutil import dumps_str

__all__ = ["IMAGE_TOKENS", "PDF_PAGE_TOKENS", "estimate_input_tokens", "text_tokens"]

PROSE_CHARS_PER_TOKEN = 3.5
CODE_CHARS_PER_TOKEN = 3.0
IMAGE_TOKENS = 1600
PDF_PAGE_TOKENS = 3000
_PDF_BYTES_PER_PAGE = 60_000
_REQUEST, _MESSAGE, _BLOCK, _TOOL_USE, _TOOL_RESULT, _TOOL_DEF = 4, 3, 1, 12, 8, 10
_TOOL_PROMPT = {"auto": 346, "none": 346, "any": 313, "tool": 313}
_SYMBOLS = '{}[]();=<>"'
_PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")


def text_tokens(text: str) -> float:
    """Tokens of one text; fractional so that many small texts do not each round up."""
    if not text:
        return 0.0
    symbols = sum(text.count(c) for c in _SYMBOLS)
    per_token = CODE_CHARS_PER_TOKEN if symbols >= 0.05 * len(text) else PROSE_CHARS_PER_TOKEN
    extra_bytes = len(text.encode("utf-8", "replace")) - len(text)
    return len(text) / per_token + 0.5 * extra_bytes


def _json_tokens(value: Any) -> float:
    text = dumps_str(value)
    return len(text) / CODE_CHARS_PER_TOKEN + 0.5 * (len(text.encode("utf-8", "replace")) - len(text))


def estimate_input_tokens(body: dict[str, Any]) -> int:
    """Estimated input tokens of a count_tokens body (a Messages body; ``max_tokens`` not needed)."""
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    messages = check_messages(body.get("messages"))
    total = float(_REQUEST)
    total += sum(text_tokens(b["text"]) + _BLOCK for b in system_texts(body.get("system"), "system"))
    last_assistant = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=-1)
    for i, msg in enumerate(messages):
        total += _MESSAGE
        for block in block_list(msg["content"], f"messages[{i}].content"):
            total += _BLOCK + _block_tokens(block, thinking=i == last_assistant)
    tools = body.get("tools")
    if tools is not None and (not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools)):
        raise InvalidRequest("tools: must be a list of tool objects", param="tools")
    if tools:
        choice = body.get("tool_choice")
        kind = choice.get("type") if isinstance(choice, dict) else None
        total += _TOOL_PROMPT.get(kind if isinstance(kind, str) else "auto", _TOOL_PROMPT["auto"])
        total += sum(_TOOL_DEF + _tool_tokens(t) for t in tools)
    return max(1, math.ceil(total))


def _tool_tokens(tool: dict[str, Any]) -> float:
    if tool.get("type") in (None, "custom"):
        name, description = tool.get("name"), tool.get("description")
        return (
            text_tokens(name if isinstance(name, str) else "")
            + text_tokens(description if isinstance(description, str) else "")
            + _json_tokens(tool.get("input_schema") or {})
        )
    return _json_tokens(tool)  # a server tool: its definition is all there is to go by


def _block_tokens(block: dict[str, Any], *, thinking: bool) -> float:
    kind = block["type"]
    if kind == "text":
        return text_tokens(block["text"])
    if kind == "image":
        return IMAGE_TOKENS
    if kind == "document":
        return _document_tokens(block)
    if kind == "tool_use":
        return _TOOL_USE + text_tokens(str(block.get("name", ""))) + _json_tokens(block.get("input", {}))
    if kind == "tool_result":
        return _TOOL_RESULT + _nested_tokens(block.get("content"))
    if kind == "thinking":
        return text_tokens(str(block.get("thinking", ""))) if thinking else 0.0
    if kind == "redacted_thinking":
        return len(str(block.get("data", ""))) / 4 if thinking else 0.0
    if kind == "search_result":
        texts = [block.get("title"), block.get("source")]
        texts += [b.get("text") for b in block.get("content") or [] if isinstance(b, dict)]
        return sum(text_tokens(t) for t in texts if isinstance(t, str))
    return _json_tokens(block)


def _nested_tokens(content: Any) -> float:
    """Content inside a tool result or document; anything malformed counts as its JSON, never refused."""
    if content is None:
        return 0.0
    if isinstance(content, str):
        return text_tokens(content)
    if not isinstance(content, list):
        return _json_tokens(content)
    total = 0.0
    for block in content:
        typed = isinstance(block, dict) and isinstance(block.get("type"), str)
        if typed and (block["type"] != "text" or isinstance(block.get("text"), str)):
            total += _BLOCK + _block_tokens(block, thinking=False)
        else:
            total += _BLOCK + _json_tokens(block)
    return total


def _document_tokens(block: dict[str, Any]) -> float:
    source = block.get("source")
    kind = source.get("type") if isinstance(source, dict) else None
    if kind == "text" and isinstance(source, dict) and isinstance(source.get("data"), str):
        return text_tokens(source["data"])
    if kind == "content" and isinstance(source, dict):
        return _nested_tokens(source.get("content"))
    if kind == "base64" and isinstance(source, dict) and isinstance(source.get("data"), str):
        return PDF_PAGE_TOKENS * _pdf_pages(source["data"])
    return PDF_PAGE_TOKENS  # a URL or file id: one page is the least it can be


def _pdf_pages(data: str) -> int:
    try:
        raw = b64decode(data, validate=False)
    except (binascii.Error, ValueError):
        return 1
    pages = len(_PAGE.findall(raw))
    return pages or max(1, math.ceil(len(raw) / _PDF_BYTES_PER_PAGE))
