"""Skewless's data plane.

Feast's metrics module, imported with Feast, sets ``PROMETHEUS_MULTIPROC_DIR`` for the whole
process when it is unset. prometheus_client reads that variable once, when its value module is
first imported, and in that mode every metric keeps its value in a per-process file keyed by
metric name and labels: two feature servers in one process (tests, embedded use) would count into
each other. Importing the value module here, before anything imports Feast, keeps our metrics'
values in memory and per object. A variable the operator set on purpose is still honoured.
"""

import prometheus_client.values  # noqa: F401  (see the docstring: import order matters)
