"""The only upstream I/O in the project: twin transports with the same public names.

``sync_requests`` (requests, threads/greenlets) serves the Flask stack and
``async_aiohttp`` (aiohttp, asyncio) serves the FastAPI stack. Importing this package
imports neither client library.
"""
