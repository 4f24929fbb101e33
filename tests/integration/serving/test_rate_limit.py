"""The feature server's rate limits: per token and per address, the hot route included."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx

from services.settings import Settings
from tests.integration.serving.conftest import ServerThread, load_project

BODY = {"features": ["merchant_risk:fraud_rate_30d"], "entities": {"merchant_id": [1]}}


def test_a_token_past_its_rate_gets_429_and_others_are_served(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    # One request every five seconds per token, one held; the static token and a wrong one.
    settings = make_settings(
        "sqlite", serve_token="t" * 32, serve_rate_per_token=0.2, serve_rate_per_address=0
    )
    load_project(settings, tmp_path)
    good = {"Authorization": f"Bearer {'t' * 32}"}
    with ServerThread(settings) as srv, httpx.Client(base_url=srv.url, timeout=30) as client:
        assert client.post("/get-online-features", json=BODY, headers=good).status_code == 200
        refused = client.post("/get-online-features", json=BODY, headers=good)
        assert refused.status_code == 429
        assert refused.json()["error"] == "rate_limited"
        assert int(refused.headers["retry-after"]) >= 1
        assert client.post("/push", json={}, headers=good).status_code == 429  # every route
        other = {"Authorization": "Bearer wrong"}
        assert client.post("/get-online-features", json=BODY, headers=other).status_code == 401
        assert client.get("/health").status_code == 200  # probes are never limited


def test_an_address_past_its_rate_gets_429(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings("sqlite", serve_rate_per_token=0, serve_rate_per_address=0.2)
    load_project(settings, tmp_path)
    with ServerThread(settings) as srv, httpx.Client(base_url=srv.url, timeout=30) as client:
        statuses = [
            client.post(
                "/get-online-features", json=BODY, headers={"Authorization": f"Bearer x{i}"}
            ).status_code
            for i in range(3)
        ]
    assert statuses[1:] == [429, 429]
