"""Two feature-server metric sets in one process never count into each other, Feast or not."""

from __future__ import annotations

import os
import subprocess
import sys

PROBE = """
import services
import feast.feature_store  # imports feast.metrics, which sets PROMETHEUS_MULTIPROC_DIR
from services.serving.metrics import make_metrics

first = make_metrics()
for _ in range(5):
    first.observe_request("/get-online-features", 200, 0.001)
second = make_metrics()
second.observe_request("/get-online-features", 200, 0.001)
print(first.requests.labels("/get-online-features", "200")._value.get(),
      second.requests.labels("/get-online-features", "200")._value.get())
"""


def test_metrics_of_two_apps_stay_apart_after_feast_is_imported() -> None:
    env = {k: v for k, v in os.environ.items() if "PROMETHEUS" not in k.upper()}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["5.0", "1.0"]
