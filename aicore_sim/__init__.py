"""SAP AI Core simulator: XSUAA tokens plus Azure OpenAI, Bedrock (Invoke and Converse) and
Vertex AI Gemini deployments, with deterministic answers, latency profiles and fault
injection.

It stands in for an external service, so it deliberately imports nothing from the
proxy's ``shared`` package. Run it with ``python -m aicore_sim``.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
