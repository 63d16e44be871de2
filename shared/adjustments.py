"""What the proxy changed in a request on its way upstream, reported instead of hidden.

Converters translate a client's request to the nearest form the target model accepts
(``shared/capabilities.py``): a field the target does not know is left out, a form it
does not know is rewritten. Each such change is written into the request's
:class:`Adjustments`, which the request's record turns into a debug log line, the
``dropped`` list of the access line and the ``proxy_dropped_fields_total`` counter —
so a client whose new field is silently ignored can find out why.

Converters take ``adjustments`` as an optional argument; ``None`` means nobody listens.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Adjustments", "dropped", "adapted"]


@dataclass(slots=True)
class Adjustments:
    """Field paths left out (``dropped``) and rewritten (``adapted``), each with a short reason."""

    dropped: list[tuple[str, str]] = field(default_factory=list)
    adapted: list[tuple[str, str]] = field(default_factory=list)

    def drop(self, name: str, reason: str) -> None:
        self.dropped.append((name, reason))

    def adapt(self, name: str, how: str) -> None:
        self.adapted.append((name, how))

    def dropped_fields(self) -> list[str]:
        return [name for name, _ in self.dropped]

    def summary(self) -> str:
        """One line for the debug log."""
        parts = [f"dropped {name} ({why})" for name, why in self.dropped]
        parts += [f"adapted {name}: {how}" for name, how in self.adapted]
        return "; ".join(parts)


def dropped(adjustments: Adjustments | None, name: str, reason: str) -> None:
    """Record a left-out field when someone listens."""
    if adjustments is not None:
        adjustments.drop(name, reason)


def adapted(adjustments: Adjustments | None, name: str, how: str) -> None:
    """Record a rewritten field when someone listens."""
    if adjustments is not None:
        adjustments.adapt(name, how)
