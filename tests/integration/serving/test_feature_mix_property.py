"""Any mix of view and on-demand features over HTTP equals the training-set row at now.

Hypothesis draws feature lists from every view feature and every on-demand output of the demo
repository (subsets, on-demand features alone, everything; in any order), and entity rows of
known and unknown keys. The server's answer must be exactly the point-in-time frame built for the
same references at the request's instant, with only what was asked and never a server error.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.offline.training import join_features
from services.online.materialize import materialize
from services.resolution import plan_features
from services.settings import Settings
from services.store import Store
from tests.integration.serving.conftest import ServerThread, load_project

pytestmark = pytest.mark.integration


def _plain(value: Any) -> Any:
    if value is None or (not isinstance(value, str | bytes | list) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def _references(store: Store) -> list[str]:
    refs = [f"{name}:{f.name}" for name, view in store.feature_views.items() for f in view.features]
    refs += [f"{name}:{f.name}" for name, odfv in store.odfvs.items() for f in odfv.features]
    return sorted(refs)


def test_any_feature_mix_equals_the_training_row_at_now(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    app_settings = make_settings("sqlite")
    load_project(app_settings, tmp_path)
    store = Store(app_settings)
    materialize(store)
    pool = _references(store)
    assert any(ref.startswith("transaction_risk:") for ref in pool)

    with ServerThread(app_settings) as srv, httpx.Client(base_url=srv.url, timeout=30) as client:

        @settings(
            max_examples=40,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        )
        @given(
            features=st.lists(st.sampled_from(pool), min_size=1, max_size=len(pool), unique=True),
            customers=st.lists(st.integers(0, 45), min_size=1, max_size=4),
            merchant=st.integers(0, 30),
            amount=st.floats(0.01, 5_000, allow_nan=False),
        )
        def check(features: list[str], customers: list[int], merchant: int, amount: float) -> None:
            rows = len(customers)
            entities = {
                "customer_id": customers,
                "merchant_id": [merchant] * rows,
                "transaction_amount": [amount] * rows,
            }
            at = datetime.now(UTC)
            answer = client.post(
                "/get-online-features", json={"features": features, "entities": entities}
            )
            assert answer.status_code == 200, (features, answer.text)
            body = answer.json()
            plan = plan_features(store, features)
            frame = pd.DataFrame({k: entities[k] for k in [*plan.join_keys]})
            for spec in plan.request_fields:
                frame[spec.name] = entities[spec.name]
            frame["event_timestamp"] = pd.Timestamp(at)
            expected, _ = join_features(store, plan, frame)
            names = body["metadata"]["feature_names"]
            assert names == plan.join_keys + plan.output_names()  # only what was asked
            for name, result in zip(names, body["results"], strict=True):
                want = [_plain(v) for v in expected[name]]
                assert result["values"] == want, (features, name)

        check()
    store.close()
