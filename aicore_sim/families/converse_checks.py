"""Bedrock Converse's request validation (union content blocks, role order, tool pairing).

Also home of the ``cache_control`` rule: Converse through AI Core answers any body that
carries Anthropic's ``cache_control`` with status 400 and the body ``{}``.
"""

from __future__ import annotations

from typing import Any

from aicore_sim.families.base import Refusal
from aicore_sim.families.claude_checks import check_thinking
from aicore_sim.families.claude_rules import (
    ClaudeProfile,
    betas_of,
    check_anthropic_beta,
    check_generation_thinking,
    check_max_tokens,
    check_output_config,
    check_sampling,
    claude_profile,
)

__all__ = ["validate_converse"]

# `outputConfig` is Converse's structured-output field ("For Converse APIs, use the
# outputConfig.textFormat request field",
# https://docs.aws.amazon.com/bedrock/latest/userguide/structured-output.html).
_TOP = frozenset(
    "messages system inferenceConfig toolConfig additionalModelRequestFields guardrailConfig promptVariables "
    "additionalModelResponseFieldPaths requestMetadata performanceConfig outputConfig".split()
)
_BLOCKS = frozenset(
    "text image document video toolUse toolResult reasoningContent cachePoint guardContent citationsContent".split()
)
_INFERENCE = frozenset(("maxTokens", "temperature", "topP", "stopSequences"))
_IMAGE_FORMATS = ("png", "jpeg", "gif", "webp")


def _bad(message: str) -> Refusal:
    return Refusal(400, {"message": message})


def _has_cache_control(obj: Any) -> bool:
    if isinstance(obj, dict):
        return "cache_control" in obj or any(_has_cache_control(v) for v in obj.values())
    if isinstance(obj, list):
        return any(_has_cache_control(v) for v in obj)
    return False


def _check_block(where: str, block: Any, role: str, prev_ids: set[str]) -> None:
    if not isinstance(block, dict) or len(block) != 1:
        raise _bad(f"{where}: a content block must have exactly one member")
    ((kind, value),) = block.items()
    if kind not in _BLOCKS:
        raise _bad(
            f"Malformed input request: {where}: extraneous key [{kind}] is not permitted, "
            "please reformat your input and try again."
        )
    if kind == "text" and not (isinstance(value, str) and value.strip()):
        raise _bad(
            f"The text field in the ContentBlock object at {where} is blank. Add text to the text field, and try again."
        )
    if kind == "image" and (
        not isinstance(value, dict)
        or value.get("format") not in _IMAGE_FORMATS
        or not isinstance(value.get("source"), dict)
        or "bytes" not in value["source"]
    ):
        raise _bad(f"{where}.image: expected {{format: png|jpeg|gif|webp, source: {{bytes}}}}")
    if kind == "toolUse":
        if (
            role != "assistant"
            or not isinstance(value, dict)
            or not {"toolUseId", "name", "input"} <= set(value)
            or not isinstance(value["toolUseId"], str)
        ):
            raise _bad(f"{where}.toolUse: needs toolUseId, name and input, in an assistant turn")
    if kind == "toolResult":
        if role != "user" or not isinstance(value, dict) or not isinstance(value.get("content"), list):
            raise _bad(f"{where}.toolResult: needs toolUseId and a content list, in a user turn")
        if not isinstance(value.get("toolUseId"), str) or value["toolUseId"] not in prev_ids:
            raise _bad(
                f"The toolResult block at {where} refers to an unknown toolUseId {value.get('toolUseId')}: "
                "it must match a toolUse block of the previous assistant turn."
            )
    if kind == "reasoningContent" and (role != "assistant" or not isinstance(value, dict)):
        raise _bad(f"{where}.reasoningContent: only allowed in assistant turns")


def validate_converse(body: Any, model: str = "anthropic--claude-4-sonnet") -> None:
    """Raise :class:`Refusal` for a body Converse would refuse for this model's generation.

    ``model`` is the AI Core model name (default: Claude 4 Sonnet, for callers that check a body
    without naming a model, such as the proxy's cross-check tests).
    """
    if _has_cache_control(body):
        raise Refusal(400, raw=b"{}")
    if not isinstance(body, dict):
        raise _bad("Malformed input request: expected a JSON object")
    for key in body:
        if key not in _TOP:
            raise _bad(
                f"Malformed input request: extraneous key [{key}] is not permitted, please reformat your "
                "input and try again."
            )
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _bad(
            "A conversation must start with a user message. Try again with a conversation that starts with "
            "a user message."
        )
    uses_tools = False
    prev_ids: set[str] = set()
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or set(m) - {"role", "content"} or not isinstance(m.get("content"), list):
            raise _bad(f"messages.{i}: expected {{role, content: [...]}}")
        role = m.get("role")
        if role not in ("user", "assistant"):
            raise _bad(
                f"messages.{i}.role: Value '{role}' failed to satisfy constraint: Member must satisfy enum "
                "value set: [user, assistant]"
            )
        if i == 0 and role != "user":
            raise _bad(
                "A conversation must start with a user message. Try again with a conversation that starts "
                "with a user message."
            )
        if i and role == messages[i - 1]["role"]:
            raise _bad(
                "A conversation must alternate between user and assistant roles. Make sure the conversation "
                "alternates between user and assistant roles and try again."
            )
        if not m["content"]:
            raise _bad(f"messages.{i}.content: the content list must not be empty")
        for j, block in enumerate(m["content"]):
            _check_block(f"messages.{i}.content.{j}", block, role, prev_ids)
        blocks = m["content"]
        if role == "user" and prev_ids:
            answered = {b["toolResult"].get("toolUseId") for b in blocks if "toolResult" in b}
            if prev_ids - answered:
                raise _bad(
                    f"Expected toolResult blocks at messages.{i}.content for the following Ids: "
                    f"{', '.join(sorted(prev_ids - answered))}"
                )
        prev_ids = {b["toolUse"]["toolUseId"] for b in blocks if "toolUse" in b} if role == "assistant" else set()
        uses_tools = uses_tools or any("toolUse" in b or "toolResult" in b for b in blocks)
    system = body.get("system")
    if system is not None and (
        not isinstance(system, list)
        or any(
            not isinstance(b, dict) or len(b) != 1 or next(iter(b)) not in ("text", "cachePoint", "guardContent")
            for b in system
        )
    ):
        raise _bad("system: expected a list of {text} / {cachePoint} blocks")
    inference = body.get("inferenceConfig") or {}
    if not isinstance(inference, dict) or set(inference) - _INFERENCE:
        raise _bad(f"inferenceConfig: only {', '.join(sorted(_INFERENCE))} are allowed")
    stops = inference.get("stopSequences")
    if stops is not None and (not isinstance(stops, list) or not all(isinstance(x, str) for x in stops)):
        raise _bad("inferenceConfig.stopSequences: expected a list of strings")
    max_tokens = inference.get("maxTokens")
    if max_tokens is not None and (not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1):
        raise _bad("inferenceConfig.maxTokens: Member must have value greater than or equal to 1")
    extra = body.get("additionalModelRequestFields") or {}
    if not isinstance(extra, dict):
        raise _bad("additionalModelRequestFields: expected an object")
    _validate_generation(claude_profile(model), body, inference, extra, max_tokens)
    _validate_tools(body.get("toolConfig"), uses_tools)


def _validate_generation(
    profile: ClaudeProfile, body: dict[str, Any], inference: dict[str, Any], extra: dict[str, Any], max_tokens: Any
) -> None:
    """The per-generation rules of claude_rules, as Converse carries them.

    Anthropic-specific fields travel in `additionalModelRequestFields` (thinking,
    output_config, anthropic_beta, top_k) and are validated by the model exactly as on
    InvokeModel (BerriAI/litellm passes anthropic_beta there; UKGovernmentBEIS/inspect_ai#3765
    shows thinking and output_config there for Opus 4.7).
    """
    betas = betas_of(extra.get("anthropic_beta"))
    check_anthropic_beta(profile, betas)
    if max_tokens is not None:
        check_max_tokens(profile, max_tokens, betas)
    thinking = extra.get("thinking")
    check_generation_thinking(profile, thinking)
    if thinking is not None:
        check_thinking(
            thinking,
            max_tokens or 4096,
            inference.get("temperature"),
            _bad,
            interleaved="interleaved-thinking-2025-05-14" in betas,
            adaptive="adaptive" in profile.thinking_types,
        )
    check_output_config(profile, extra.get("output_config"), betas)
    sampling = {
        "temperature": inference.get("temperature"),
        "top_p": inference.get("topP"),
        "top_k": extra.get("top_k"),
    }
    check_sampling(profile, sampling, {"temperature": "temperature", "top_p": "top_p", "top_k": "top_k"})
    output = body.get("outputConfig")
    if output is not None:
        if not isinstance(output, dict) or set(output) != {"textFormat"} or not isinstance(output["textFormat"], dict):
            raise _bad("outputConfig: expected {textFormat: {type: json_schema, structure: {jsonSchema: {...}}}}")
        if not profile.structured_output:
            # The generations with structured output are listed in claude_rules; the wording of
            # Bedrock's refusal for the others is not published (simulator wording).
            raise _bad("This model doesn't support the outputConfig.textFormat field. Remove it and try again.")


def _validate_tools(config: Any, uses_tools: bool) -> None:
    if config is None:
        if uses_tools:
            raise _bad("The toolConfig field must be defined when using toolUse and toolResult content blocks.")
        return
    if not isinstance(config, dict) or set(config) - {"tools", "toolChoice"}:
        raise _bad("toolConfig: only tools and toolChoice are allowed")
    tools = config.get("tools")
    if not isinstance(tools, list) or not tools:
        raise _bad("toolConfig.tools: Member must have length greater than or equal to 1")
    for j, tool in enumerate(tools):
        if isinstance(tool, dict) and set(tool) == {"cachePoint"}:
            continue
        spec = tool.get("toolSpec") if isinstance(tool, dict) and set(tool) == {"toolSpec"} else None
        if (
            not isinstance(spec, dict)
            or not isinstance(spec.get("name"), str)
            or set(spec) - {"name", "description", "inputSchema"}
        ):
            raise _bad(f"toolConfig.tools.{j}: expected {{toolSpec: {{name, description, inputSchema: {{json}}}}}}")
        schema = spec.get("inputSchema")
        if not isinstance(schema, dict) or set(schema) != {"json"}:
            raise _bad(f"toolConfig.tools.{j}.toolSpec.inputSchema: expected {{json: <JSON schema>}}")
    choice = config.get("toolChoice")
    if choice is not None and (
        not isinstance(choice, dict) or len(choice) != 1 or next(iter(choice)) not in ("auto", "any", "tool")
    ):
        raise _bad("toolConfig.toolChoice: expected {auto: {}} | {any: {}} | {tool: {name}}")
