"""Skewless's lineage service.

prometheus_client's value module is imported before anything can import Feast, whose metrics
module would otherwise switch every metric in the process to shared per-process files (see
``services/__init__.py``).
"""

import prometheus_client.values  # noqa: F401  (import order matters)
