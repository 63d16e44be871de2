"""Which model names clients see and may use: aliases, stripped prefixes and filters.

Pure functions over name lists, shared by the config parser (validation), the router
(resolution) and ``proxyctl models`` (the table); deployment discovery passes its
discovered names through the same :func:`build_names` / :func:`filter_names`.

* ``model_aliases`` (alias -> configured model): an alias routes exactly like its target.
  It may not shadow a configured name, and its target must be a configured model (no
  chains through other aliases or stripped names).
* ``strip_model_prefixes``: ``/v1/models`` lists ``claude-4.5-sonnet`` instead of
  ``anthropic--claude-4.5-sonnet`` (the first matching prefix is removed); the stripped
  name is accepted as an implicit alias and the configured name keeps working.
* ``model_filters`` (``include_filters`` then ``exclude_filters``, regexes searched
  anywhere in the name): every name — configured, stripped, alias — is tested on its own,
  and a configured model whose own name is filtered out is gone together with its
  stripped name and aliases.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.errors import ConfigError

__all__ = [
    "ModelFilters",
    "NameTable",
    "build_names",
    "filter_names",
    "parse_model_aliases",
    "parse_model_filters",
    "parse_strip_prefixes",
    "strip_prefix",
]


@dataclass(frozen=True, slots=True)
class ModelFilters:
    include: tuple[re.Pattern[str], ...] = ()
    exclude: tuple[re.Pattern[str], ...] = ()

    def allows(self, name: str) -> bool:
        """Kept when it matches any include filter (or there are none) and no exclude filter."""
        if self.include and not any(p.search(name) for p in self.include):
            return False
        return not any(p.search(name) for p in self.exclude)


def filter_names(names: Iterable[str], filters: ModelFilters) -> list[str]:
    """The names the filters keep, in order: the one place names are filtered."""
    return [name for name in names if filters.allows(name)]


def parse_model_filters(raw: Any) -> ModelFilters:
    """Compile ``include_filters`` / ``exclude_filters`` (other keys are the config parser's to report)."""
    if not isinstance(raw, dict):
        raise ConfigError("model_filters: must be an object with include_filters and/or exclude_filters")
    compiled: dict[str, tuple[re.Pattern[str], ...]] = {}
    for key in ("include_filters", "exclude_filters"):
        patterns = raw.get(key, [])
        if not isinstance(patterns, list):
            raise ConfigError(f"model_filters.{key}: must be a list of regular expressions")
        out = []
        for i, pattern in enumerate(patterns):
            if not isinstance(pattern, str):
                raise ConfigError(f"model_filters.{key}[{i}]: must be a string (a regular expression)")
            try:
                out.append(re.compile(pattern))
            except re.error as exc:
                raise ConfigError(f"model_filters.{key}[{i}]: invalid regular expression {pattern!r}: {exc}") from None
        compiled[key] = tuple(out)
    return ModelFilters(compiled["include_filters"], compiled["exclude_filters"])


def parse_model_aliases(raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise ConfigError("model_aliases: must map alias names to configured model names")
    for alias, target in raw.items():
        if not alias:
            raise ConfigError("model_aliases: an alias must be a non-empty string")
        if not isinstance(target, str) or not target:
            raise ConfigError(f"model_aliases.{alias}: must be the name of a configured model")
    return dict(raw)


def parse_strip_prefixes(raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(p, str) and p for p in raw):
        raise ConfigError("strip_model_prefixes: must be a list of non-empty strings")
    return tuple(raw)


def strip_prefix(name: str, prefixes: Sequence[str]) -> str | None:
    """``name`` without the first of ``prefixes`` it starts with (None: no prefix, or nothing would be left)."""
    for prefix in prefixes:
        if name.startswith(prefix) and len(name) > len(prefix):
            return name[len(prefix) :]
    return None


@dataclass(frozen=True, slots=True)
class NameTable:
    """Client names -> configured models, after aliases, stripping and filters."""

    accepted: Mapping[str, str]  # every name a request may use -> the configured model it routes to
    listed: tuple[str, ...]  # what /v1/models shows, in order
    display: Mapping[str, str]  # configured model -> the name it is listed under (stripped or itself)
    aliases: Mapping[str, str] = field(default_factory=dict)  # valid aliases -> target, filtered or not
    hidden: frozenset[str] = frozenset()  # configured, stripped and alias names removed by the filters


def _raise(exc: ConfigError) -> None:
    raise exc


def build_names(
    models: Sequence[str],
    aliases: Mapping[str, str],
    prefixes: Sequence[str],
    filters: ModelFilters,
    on_problem: Callable[[ConfigError], None] = _raise,
    on_unknown_target: Callable[[ConfigError], None] | None = None,
) -> NameTable:
    """Resolve every source of names; ``on_problem`` gets each conflict (default: raise it).

    ``on_unknown_target`` (default: ``on_problem``) gets an alias whose target is no model
    here — a model that discovery may still add, which an offline check cannot know.
    """
    unknown_target = on_unknown_target or on_problem
    configured = list(dict.fromkeys(models))
    known = set(configured)
    stripped: dict[str, str] = {}
    display: dict[str, str] = {}
    for model in configured:
        display[model] = model
        short = strip_prefix(model, prefixes)
        if short is None:
            continue
        if short in known:
            on_problem(
                ConfigError(
                    f"strip_model_prefixes: '{model}' would be listed as '{short}', "
                    f"which is already the configured model '{short}'"
                )
            )
        elif short in stripped:
            on_problem(
                ConfigError(
                    f"strip_model_prefixes: '{stripped[short]}' and '{model}' would both be listed as '{short}'"
                )
            )
        else:
            stripped[short] = model
            display[model] = short
    valid_aliases: dict[str, str] = {}
    for alias, target in aliases.items():
        where = f"model_aliases.{alias}"
        if alias in known:
            on_problem(ConfigError(f"{where}: shadows the configured model '{alias}'; pick another alias"))
        elif alias in stripped:
            on_problem(ConfigError(f"{where}: collides with '{alias}', the stripped name of '{stripped[alias]}'"))
        elif target in aliases:
            on_problem(ConfigError(f"{where}: '{target}' is itself an alias; point at '{aliases[target]}' directly"))
        elif target in stripped:
            on_problem(ConfigError(f"{where}: '{target}' is a stripped name; point at '{stripped[target]}' directly"))
        elif target not in known:
            unknown_target(ConfigError(f"{where}: '{target}' is not a configured model"))
        else:
            valid_aliases[alias] = target

    live = set(filter_names(configured, filters))
    accepted: dict[str, str] = {}
    listed: list[str] = []
    hidden: set[str] = set()
    for model in configured:
        shown = display[model]
        if model in live:
            accepted[model] = model
        else:
            hidden.add(model)
        if model in live and filters.allows(shown):
            accepted[shown] = model
            listed.append(shown)
        elif shown != model:
            hidden.add(shown)
    for alias, target in valid_aliases.items():
        if target in live and filters.allows(alias):
            accepted[alias] = target
            listed.append(alias)
        else:
            hidden.add(alias)
    return NameTable(accepted, tuple(listed), display, valid_aliases, frozenset(hidden))
