"""Gunicorn settings for the Flask stack: gevent workers, never preloaded.

``preload_app`` stays False: preloading imports ``requests``/``ssl`` in the master
before gevent patches them in the workers (gunicorn#2796, gevent#1016). Anything here
can be overridden on the command line (``--bind``, ``--workers``).
"""

import os

worker_class = "gevent"
workers = int(os.environ.get("PROXY_WORKERS", "1"))
worker_connections = int(os.environ.get("PROXY_WORKER_CONNECTIONS", "10000"))
preload_app = False
bind = os.environ.get("PROXY_BIND", "127.0.0.1:3001")
# Streams can run for minutes; gevent workers heartbeat independently of requests.
timeout = int(os.environ.get("PROXY_WORKER_TIMEOUT", "120"))
graceful_timeout = int(os.environ.get("PROXY_DRAIN_TIMEOUT", "30"))
keepalive = 75
accesslog = None
loglevel = os.environ.get("PROXY_LOG_LEVEL", "info")
