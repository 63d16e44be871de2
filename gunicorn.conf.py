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


# Metrics with several workers (docs/operations.md): with PROMETHEUS_MULTIPROC_DIR set,
# every worker writes its metrics to files there and GET /metrics sums them. The
# directory is emptied before the first worker starts, and a dead worker's live gauges
# (in-flight streams) are dropped. shared.metrics_multiproc imports no prometheus_client:
# importing it here, in the master, would import ssl before gevent patches the workers.
def on_starting(server):
    from shared.metrics_multiproc import multiproc_dir, reset_dir

    path = multiproc_dir(os.environ)
    if path:
        reset_dir(path)


def child_exit(server, worker):
    from shared.metrics_multiproc import mark_process_dead, multiproc_dir

    path = multiproc_dir(os.environ)
    if path:
        mark_process_dead(worker.pid, path)
