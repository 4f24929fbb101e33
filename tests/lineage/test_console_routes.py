"""The console's server side: assets served unaudited, ``/api/v1/me`` and the chain's verdict."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

import lineage
from lineage.db.models import AuditLog
from lineage.db.session import session_scope

# A script, style, font or image loaded from another origin (the SVG namespace URI is no load).
REMOTE = re.compile(r"""(\bfrom\s*|\bsrc=|\bhref=|url\(|import\()\s*["']?(https?:)?//""")


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _entries(maker: sessionmaker[Session]) -> int:
    with session_scope(maker) as s:
        return int(s.scalar(select(func.count()).select_from(AuditLog)) or 0)


def test_home_is_the_console_and_its_assets_ship_without_a_cdn(
    client: TestClient, maker: sessionmaker[Session]
) -> None:
    before = _entries(maker)
    home = client.get("/", follow_redirects=False)
    assert (home.status_code, home.headers["location"]) == (307, "/console/")
    page = client.get("/console/")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert "default-src 'self'" in page.text  # the page's CSP: nothing from elsewhere
    folder = Path(lineage.__file__).parent / "console"
    assets = sorted(str(p.relative_to(folder)) for p in folder.rglob("*.*") if p.suffix != ".html")
    assert {"style.css", "js/app.js", "js/api.js", "js/dom.js", "js/dataset.js"} <= set(assets)
    for asset in assets:  # every module the page loads, whatever its number
        answer = client.get(f"/console/{asset}")
        assert answer.status_code == 200, asset
        assert not REMOTE.search(answer.text), asset
    assert client.get("/console/js/missing.js").status_code == 404
    assert _entries(maker) == before  # public files: nothing to audit


def test_me_names_the_tokens_principal_role_and_grants(
    client: TestClient, make_token: Callable[..., str], maker: sessionmaker[Session]
) -> None:
    token = make_token("bob", "consumer", "skewless", "finance")
    before = _entries(maker)
    me = client.get("/api/v1/me", headers=_bearer(token))
    expected = {"principal": "bob", "role": "consumer", "namespaces": ["finance", "skewless"]}
    assert me.json() == expected
    assert _entries(maker) == before + 1  # an API call, audited like every other
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/api/v1/me", headers=_bearer("nope")).status_code == 401


def test_verify_answers_intact_then_names_a_tampered_entry(
    client: TestClient, make_token: Callable[..., str], maker: sessionmaker[Session]
) -> None:
    auditor = make_token("alice", "auditor")
    consumer = make_token("bob", "consumer", "skewless")
    assert client.get("/api/v1/audit/verify", headers=_bearer(consumer)).status_code == 403
    first = client.get("/api/v1/audit/verify", headers=_bearer(auditor))
    assert first.json() == {"intact": True, "brokenAt": None, "reason": None}
    with session_scope(maker) as s:
        s.execute(update(AuditLog).where(AuditLog.id == 1).values(principal="mallory"))
    broken = client.get("/api/v1/audit/verify", headers=_bearer(auditor)).json()
    assert (broken["intact"], broken["brokenAt"]) == (False, 1)
    assert broken["reason"]


def test_the_catalog_is_one_call_and_hides_namespaces_outside_the_grants(
    client: TestClient,
    make_token: Callable[..., str],
    maker: sessionmaker[Session],
    golden: Callable[[str], dict[str, Any]],
) -> None:
    admin = make_token("ops", "admin")
    consumer = make_token("bob", "consumer", "elsewhere")
    event = golden("ingest_complete")
    assert client.post("/api/v1/lineage", json=event, headers=_bearer(admin)).status_code == 201
    namespace = event["job"]["namespace"]
    before = _entries(maker)
    found = client.get("/api/v1/catalog", params={"namespace": namespace}, headers=_bearer(admin))
    assert found.status_code == 200, found.text
    body = found.json()
    assert (body["namespace"], body["limit"]) == (namespace, 100)
    assert isinstance(body["views"], list)
    assert isinstance(body["services"], list)
    assert _entries(maker) == before + 1  # one audited call
    hidden = client.get(
        "/api/v1/catalog", params={"namespace": namespace}, headers=_bearer(consumer)
    )
    assert hidden.status_code == 404  # as if it did not exist
    missing = client.get("/api/v1/catalog", params={"namespace": "nope"}, headers=_bearer(admin))
    assert missing.status_code == 404
