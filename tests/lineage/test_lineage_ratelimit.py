"""Rate limits per bearer token and per client address, on every route including intake."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from lineage.api.app import create_app
from lineage.settings import LineageSettings

RUN = "/api/v1/lineage"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_token_past_its_rate_gets_429_with_retry_after(
    settings: LineageSettings, make_token: Callable[..., str], golden: Callable[[str], Any]
) -> None:
    # One request every five seconds, one held: the second within five seconds is refused.
    limited = settings.model_copy(update={"rate_per_token": 0.2, "rate_per_address": 0.0})
    busy, other = make_token("busy", "auditor"), make_token("other", "auditor")
    with TestClient(create_app(limited)) as client:
        assert client.get("/api/v1/audit", headers=_bearer(busy)).status_code == 200
        refused = client.get("/api/v1/audit", headers=_bearer(busy))
        assert refused.status_code == 429
        assert refused.json()["code"] == "rate_limited"
        assert int(refused.headers["retry-after"]) >= 1
        # Intake is limited as well (it is answered ahead of the framework's stack).
        event = golden("ingest_complete")
        assert client.post(RUN, json=event, headers=_bearer(busy)).status_code == 429
        assert client.get("/api/v1/audit", headers=_bearer(other)).status_code == 200
        assert client.get("/health").status_code == 200  # probes are never limited


def test_an_address_past_its_rate_gets_429_whatever_the_token(
    settings: LineageSettings, make_token: Callable[..., str]
) -> None:
    limited = settings.model_copy(update={"rate_per_token": 0.0, "rate_per_address": 0.2})
    with TestClient(create_app(limited)) as client:
        statuses = [
            client.get("/api/v1/audit", headers=_bearer(f"guess-{i}")).status_code for i in range(3)
        ]
    assert statuses == [401, 429, 429]  # bad tokens cost the address's bucket too


def test_a_rate_of_zero_turns_the_limit_off(settings: LineageSettings) -> None:
    off = settings.model_copy(update={"rate_per_token": 0.0, "rate_per_address": 0.0})
    with TestClient(create_app(off)) as client:
        assert {client.get("/api/v1/audit").status_code for _ in range(50)} == {401}
