"""``skewless serve`` for the benchmark project: registers the bench contracts, then serves.

The feature server resolves a view's contract by name from ``services.contracts``, so a
contract defined outside that package must be registered in the server process first.
"""

from __future__ import annotations

import sys

import bench.contracts  # noqa: F401  (registers the benchmark contracts)
from services.cli import app

if __name__ == "__main__":
    app(["serve", *sys.argv[1:]])
