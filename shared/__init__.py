"""The I/O-free core shared by the Flask and the FastAPI stacks.

Nothing in this package (outside ``shared.transports``) imports a web framework, an
HTTP client, gevent or asyncio, reads the clock or sleeps: it decides, the transports
and adapters act. ``tests/unit/test_core_is_pure.py`` enforces that. Modules are
imported individually (``from shared.core import ProxyCore``); this package module
re-exports nothing so that importing one piece never drags in the rest.
"""

__all__: list[str] = []
