"""The flows: each route's orchestration, written once as generators that both transports drive.

``commands`` defines what a flow may ask of a transport and the runner a transport steps
it with; ``upstream`` calls one model's deployments with failover; ``deployments`` is the
set of deployments a flow picks from; ``chat``, ``embeddings``, ``messages`` and
``responses`` are the routes' flows.
"""
