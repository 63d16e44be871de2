"""``make bench`` / ``proxyctl bench``: Locust load comparisons of both stacks and the baselines.

Modules: :mod:`profiles` (what runs), :mod:`targets` (starting the processes),
:mod:`sampler` (RSS/CPU/connections from ``/proc``), :mod:`locust_run` (one Locust run),
:mod:`checks` (the performance targets), :mod:`report` (markdown and charts),
:mod:`runner` (all of it in order).
"""
