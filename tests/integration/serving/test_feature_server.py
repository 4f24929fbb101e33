"""The feature server over real HTTP: Feast-compatible reads, strict 4xx, push through the gate."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from services.settings import Settings
from services.store import Store, load_definitions
from tests.demo_repo import DEMO_REPO
from tests.integration.serving.conftest import ServerThread, load_project

Server = tuple[ServerThread, httpx.Client]


def _get(client: httpx.Client, body: dict[str, Any]) -> httpx.Response:
    return client.post("/get-online-features", json=body)


def test_feast_shaped_response_with_honest_statuses(server: Server) -> None:
    _, client = server
    r = _get(
        client,
        {
            "feature_service": "fraud_detection_v1",
            "entities": {"customer_id": [1, 10**12], "transaction_amount": [50.0, 5.0]},
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    names = body["metadata"]["feature_names"]
    assert names[0] == "customer_id"
    assert "amount_to_avg_30d_ratio" in names
    by_name = dict(zip(names, body["results"], strict=True))
    assert by_name["txn_count_1d"]["statuses"][1] == "NOT_FOUND"
    assert by_name["txn_count_1d"]["values"][1] is None
    assert by_name["txn_count_1d"]["statuses"][0] in {"PRESENT", "OUTSIDE_MAX_AGE"}


def test_feature_refs_work_like_feast(server: Server) -> None:
    _, client = server
    r = _get(
        client, {"features": ["merchant_risk:fraud_rate_30d"], "entities": {"merchant_id": [1, 2]}}
    )
    assert r.status_code == 200, r.text
    assert r.json()["metadata"]["feature_names"] == ["merchant_id", "fraud_rate_30d"]


def test_feast_request_fields_are_accepted_and_answered(server: Server) -> None:
    """Fields Feast 0.67's clients send: version metadata, transform_on_write, shared rows."""
    _, client = server
    body = {
        "features": ["merchant_risk:fraud_rate_30d", "transaction_risk:amount_to_avg_30d_ratio"],
        # One set of entity rows for several feature lists: a column this list does not use
        # is skipped, as Feast skips it, but must still have one value per row.
        "entities": {"merchant_id": [1, 2], "customer_id": [1, 2], "unused": ["a", "b"]},
        "request_data": {"transaction_amount": [10.0, 20.0]},
        "include_feature_view_version_metadata": True,
    }
    r = _get(client, body)
    assert r.status_code == 200, r.text
    metadata = r.json()["metadata"]
    assert metadata["feature_names"] == [
        "customer_id",
        "merchant_id",
        "fraud_rate_30d",
        "amount_to_avg_30d_ratio",
    ]
    assert metadata["feature_view_metadata"] == [
        {"name": "merchant_risk", "version": 0},
        {"name": "transaction_risk", "version": 0},
    ]
    assert (
        "feature_view_metadata"
        not in _get(client, {**body, "include_feature_view_version_metadata": False}).json()[
            "metadata"
        ]
    )
    short = {**body, "entities": {**body["entities"], "unused": ["a"]}}
    assert _get(client, short).status_code == 422
    push = {
        "push_source_name": "merchant_risk",
        "df": {
            "merchant_id": [7001],
            "event_timestamp": ["2026-01-01T00:00:00Z"],
            "created_timestamp": ["2026-01-01T00:00:00Z"],
            "merchant_category": ["fuel"],
            "fraud_rate_30d": [0.1],
            "chargeback_rate_30d": [0.1],
            "txn_volume_30d": [1],
        },
        "transform_on_write": False,
    }
    assert client.post("/push", json=push).status_code == 200
    for route in ("/write-to-online-store", "/materialize-incremental", "/feast/materialize"):
        refused = client.post(route, json={})
        assert refused.status_code == 404, route
        assert "not served" in refused.text


def test_client_errors_are_4xx_never_500(server: Server) -> None:
    _, client = server
    cases = [
        ({"feature_service": "nope", "entities": {"customer_id": [1]}}, 404),
        ({"features": ["merchant_risk:nope"], "entities": {"merchant_id": [1]}}, 422),
        ({"features": ["no_colon"], "entities": {"merchant_id": [1]}}, 422),
        ({"features": [], "entities": {"merchant_id": [1]}}, 422),
        ({"features": ["merchant_risk:fraud_rate_30d"], "entities": {}}, 422),
        ({"features": ["merchant_risk:fraud_rate_30d"], "entities": {"merchant_id": ["1"]}}, 422),
        ({"features": ["merchant_risk:fraud_rate_30d"], "entities": {"merchant_id": [1.5]}}, 422),
        ({"features": ["merchant_risk:fraud_rate_30d"], "entities": {"merchant_id": [True]}}, 422),
        ({"features": ["merchant_risk:fraud_rate_30d"], "entities": {"merchant_id": [None]}}, 422),
        ({"features": ["merchant_risk:fraud_rate_30d"], "entities": {"merchant_id": [2**70]}}, 422),
        ({"features": ["merchant_risk:fraud_rate_30d"], "entities": {"customer_id": [1]}}, 422),
        ({"feature_service": "fraud_detection_v1", "entities": {"customer_id": [1]}}, 422),
        (
            {
                "feature_service": "fraud_detection_v1",
                "entities": {"customer_id": [1], "transaction_amount": ["12"]},
            },
            422,
        ),
        (
            {
                "feature_service": "fraud_detection_v1",
                "entities": {"customer_id": [1], "transaction_amount": [-3.0]},
            },
            422,
        ),
        (
            {
                "features": ["merchant_risk:fraud_rate_30d"],
                "entities": {"merchant_id": list(range(5000))},
            },
            413,
        ),
    ]
    for body, status in cases:
        r = _get(client, body)
        assert r.status_code == status, (body, r.status_code, r.text)
        assert r.json()["detail"]
    assert (
        client.post(
            "/get-online-features",
            content=b"{not json",
            headers={"content-type": "application/json"},
        ).status_code
        == 422
    )
    big = b'{"entities": {"merchant_id": [' + b"1," * 600_000 + b"1]}}"
    assert (
        client.post(
            "/get-online-features", content=big, headers={"content-type": "application/json"}
        ).status_code
        == 413
    )
    # The connection is still usable after every error (no dropped keep-alive).
    assert (
        _get(
            client, {"features": ["merchant_risk:fraud_rate_30d"], "entities": {"merchant_id": [1]}}
        ).status_code
        == 200
    )


def test_push_goes_through_the_gate(server: Server) -> None:
    _, client = server
    good = {
        "merchant_id": [900001],
        "event_timestamp": ["2026-01-01T00:00:00+00:00"],
        "created_timestamp": ["2026-01-01T01:00:00Z"],
        "merchant_category": ["fuel"],
        "fraud_rate_30d": [0.01],
        "chargeback_rate_30d": [0.02],
        "txn_volume_30d": [10],
    }
    bad = {k: v * 2 for k, v in good.items()}
    bad["merchant_id"] = [900001, 900002]
    bad["fraud_rate_30d"] = [0.01, 1.5]
    r = client.post("/push", json={"push_source_name": "merchant_risk", "df": bad})
    assert r.status_code == 422, r.text
    reasons = r.json()["reasons"]
    assert [(x["row"], x["column"]) for x in reasons] == [(1, "fraud_rate_30d")]
    # Nothing of the rejected request is stored: the merchant is not online.
    got = _get(
        client,
        {"features": ["merchant_risk:fraud_rate_30d"], "entities": {"merchant_id": [900001]}},
    )
    assert got.json()["results"][1]["statuses"] == ["NOT_FOUND"]
    r = client.post("/push", json={"push_source_name": "merchant_risk", "df": good})
    assert r.status_code == 200, r.text
    assert r.json()["written"] == 1
    r = client.post("/push", json={"push_source_name": "nope", "df": good})
    assert r.status_code == 404


def test_health_and_metrics(server: Server) -> None:
    _, client = server
    assert client.get("/health").json()["status"] == "ok"
    _get(client, {"features": ["merchant_risk:fraud_rate_30d"], "entities": {"merchant_id": [1]}})
    text = client.get("/metrics").text
    assert "skewless_request_seconds_bucket" in text
    assert 'skewless_requests_total{route="/get-online-features",status="200"}' in text
    assert "skewless_served_value_age_seconds_bucket" in text


def test_served_rows_are_logged_for_audits(make_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd

    from tests.integration.serving.conftest import load_project

    settings = make_settings("sqlite", serve_log_sample_rate=1.0)
    load_project(settings, tmp_path)
    with ServerThread(settings) as srv, httpx.Client(base_url=srv.url, timeout=10) as client:
        for key in (1, 2, 3):
            r = _get(
                client,
                {
                    "feature_service": "fraud_detection_v1",
                    "entities": {"customer_id": [key], "transaction_amount": [10.0]},
                },
            )
            assert r.status_code == 200
    parts = list((settings.served_dir / "fraud_detection_v1").rglob("*.parquet"))
    logged = pd.concat([pd.read_parquet(p) for p in parts])
    assert sorted(logged["customer_id"]) == [1, 2, 3]
    assert {"_request_id", "_served_at", "txn_count_1d", "amount_to_avg_30d_ratio"} <= set(
        logged.columns
    )


def test_a_running_server_sees_apply(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """Regression (hardening #12): a service applied after start is served without a restart."""
    repo = tmp_path / "repo"
    shutil.copytree(DEMO_REPO, repo)
    settings = make_settings("sqlite", repo_path=repo, registry_ttl_s=0.2)
    load_project(settings, tmp_path)
    body = {"feature_service": "merchant_only", "entities": {"merchant_id": [1]}}
    with ServerThread(settings) as srv, httpx.Client(base_url=srv.url, timeout=10) as client:
        assert client.post("/get-online-features", json=body).status_code == 404
        with (repo / "definitions.py").open("a") as f:
            f.write(
                "\nmerchant_only = FeatureService(name='merchant_only', features=[merchant_risk],"
                " owner=RISK_TEAM, description='Merchant risk alone.')\n"
            )
        store = Store(settings)
        store.apply(load_definitions(repo))
        store.close()
        deadline = time.monotonic() + 10
        status = 404
        while status != 200 and time.monotonic() < deadline:
            status = client.post("/get-online-features", json=body).status_code
        assert status == 200


def test_no_silent_coercion_or_ignored_fields(server: tuple[ServerThread, httpx.Client]) -> None:
    """Regression (hardening #6): strings are not numbers, and unknown or lax fields are 422."""
    _, client = server
    base = {"feature_service": "fraud_detection_v1", "entities": {"customer_id": [1]}}
    typo = {**base, "request_data": {"transaction_amount": [1.0], "transaction_amout": [1.0]}}
    r = client.post("/get-online-features", json=typo)
    assert r.status_code == 422
    assert "transaction_amout" in r.json()["detail"]
    lax = {**base, "request_data": {"transaction_amount": [1.0]}, "full_feature_names": "yes"}
    assert client.post("/get-online-features", json=lax).status_code == 422
    push = {
        "push_source_name": "merchant_risk",
        "df": {
            "merchant_id": ["999003"],
            "event_timestamp": ["2026-01-01T00:00:00Z"],
            "created_timestamp": ["2026-01-01T00:00:00Z"],
            "merchant_category": ["fuel"],
            "fraud_rate_30d": ["0.5"],
            "chargeback_rate_30d": [0.1],
            "txn_volume_30d": [1],
        },
    }
    r = client.post("/push", json=push)
    assert r.status_code == 422, r.text
    columns = {reason["column"] for reason in r.json()["reasons"]}
    assert {"merchant_id", "fraud_rate_30d"} <= columns
