"""The agent tier covers every chat model the running simulator serves."""

from __future__ import annotations

from tests.agents.conftest import chat_models, collected_topology
from tests.contract.conftest import Sim


def test_every_served_model_is_covered(sim: Sim) -> None:
    served = chat_models(sim.client.get("/__sim/topology").json())
    assert served, "the simulator serves no chat model"
    assert served == chat_models(collected_topology())
