"""A team's own Feast repository of another domain goes end to end, on SQLite and on Redis.

examples/recsys is plain Feast: String user ids, Int32 item numbers, a user x item view over
two entities, a Float32 embedding, Map/Json/Bytes/Struct fields, a python-mode on-demand view
over a request source, and a service reading one view twice (``with_name``,
``with_join_key_map``). It is onboarded with ``contracts infer``, applied, ingested,
materialized, put in a training set, served over HTTP and audited, through the CLI.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from services.online.values import python_value
from services.resolution import plan_service
from services.settings import Settings
from services.store import Store
from tests.cli import cli
from tests.demo_repo import import_path
from tests.integration.serving.conftest import ServerThread
from tests.recsys_repo import OWNER, copy_example, onboard

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def _samples_module(repo: Path, file: str = "samples.py") -> Any:
    return import_path(repo / file, f"_samples_{repo.name}")


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.integration)])
def onboarded(
    request: pytest.FixtureRequest, make_settings: Callable[..., Settings], tmp_path: Path
) -> tuple[Settings, Path, dict[str, Path]]:
    """The example copied, its samples written, contracts inferred, applied and ingested."""
    repo = copy_example(tmp_path / "recsys")
    settings = make_settings(request.param, repo_path=repo)
    samples = onboard(repo, tmp_path / "samples")
    return settings, repo, samples


def _entity_rows(samples: dict[str, Path], n: int) -> pd.DataFrame:
    pairs = pd.read_parquet(samples["user_item_affinity"])[["user_id", "item_id"]].head(n)
    frame = pairs.reset_index(drop=True)
    frame["event_timestamp"] = pd.Timestamp.now(tz="UTC")
    frame["hour_of_day"] = pd.array([19, 3, 20, 8, 21, 12][:n] * (n // 6 + 1), dtype="int32")[:n]
    frame["device"] = (["ios", "web", "android"] * n)[:n]
    return frame


def test_onboarded_repository_trains_serves_and_audits(
    onboarded: tuple[Settings, Path, dict[str, Path]], tmp_path: Path
) -> None:
    settings, repo, samples = onboarded
    entities = _entity_rows(samples, 6)
    entities.to_parquet(tmp_path / "entities.parquet")
    cli(
        "training-set",
        "--service",
        "recs_v1",
        "--entities",
        str(tmp_path / "entities.parquet"),
        "--out",
        str(tmp_path / "train.parquet"),
    )
    # Regression (hardening #13): a CSV entity file is read with the declared types.
    entities.to_csv(tmp_path / "entities.csv", index=False)
    cli(
        "training-set",
        "--service",
        "recs_v1",
        "--entities",
        str(tmp_path / "entities.csv"),
        "--out",
        str(tmp_path / "train_csv.parquet"),
    )
    from_csv = pd.read_parquet(tmp_path / "train_csv.parquet")
    from_parquet = pd.read_parquet(tmp_path / "train.parquet")
    assert from_csv["age"].tolist() == from_parquet["age"].tolist()
    assert from_csv["session_score"].tolist() == from_parquet["session_score"].tolist()
    # An entity file whose String key holds numbers is refused, naming the key and its type.
    bad = entities.assign(user_id=range(len(entities)))
    bad.to_parquet(tmp_path / "bad_entities.parquet")
    out = cli(
        "training-set",
        "--service",
        "recs_v1",
        "--entities",
        str(tmp_path / "bad_entities.parquet"),
        "--out",
        str(tmp_path / "x.parquet"),
        code=2,
    )
    assert "user_id" in out
    assert "String" in out
    store = Store(settings)
    plan = plan_service(store, "recs_v1")
    from services.offline.training import join_features

    frame, _ = join_features(store, plan, entities)
    store.close()
    # Declared dtypes are kept: Int32 stays Int32, Float32 float32, arrays are lists.
    assert str(frame["age"].dtype) == "Int32"
    assert str(frame["affinity"].dtype) == "float32"
    assert isinstance(frame["embedding"].iloc[0], list)
    assert len(frame["embedding"].iloc[0]) == 16
    assert isinstance(frame["dimensions"].iloc[0], dict)

    with ServerThread(settings) as srv, httpx.Client(base_url=srv.url, timeout=10) as client:
        body = {
            "feature_service": "recs_v1",
            "entities": {
                "user_id": entities["user_id"].tolist(),
                "item_id": [int(i) for i in entities["item_id"]],
            },
            "request_data": {
                "hour_of_day": [int(h) for h in entities["hour_of_day"]],
                "device": entities["device"].tolist(),
            },
        }
        answer = client.post("/get-online-features", json=body)
        assert answer.status_code == 200, answer.text
        names = answer.json()["metadata"]["feature_names"]
        results = answer.json()["results"]
        specs = {s.name: s for s in plan.output_specs}
        for name, result in zip(names, results, strict=True):
            if name not in specs:
                continue
            for i, value in enumerate(result["values"]):
                want = python_value(frame[name].iloc[i], specs[name].type)
                got = python_value(_from_json(value, specs[name].type.name), specs[name].type)
                assert got == want, (name, i, got, want)

        # An on-demand feature alone: its inputs are fetched, only it is returned.
        alone = client.post(
            "/get-online-features",
            json={
                "features": ["session_context:session_score"],
                "entities": body["entities"],
                "request_data": body["request_data"],
            },
        )
        assert alone.status_code == 200, alone.text
        assert alone.json()["metadata"]["feature_names"][-1] == "session_score"
        assert alone.json()["results"][-1]["values"] == [
            python_value(v, specs["session_score"].type) for v in frame["session_score"]
        ]

        # A key of the wrong kind is a 422 naming the key and its type.
        wrong = client.post(
            "/get-online-features",
            json={**body, "entities": {"user_id": [1] * 6, "item_id": body["entities"]["item_id"]}},
        )
        assert wrong.status_code == 422
        assert "user_id" in wrong.text
        assert "String" in wrong.text

        # One view read twice under another name and join key.
        twice = client.post(
            "/get-online-features",
            json={
                "feature_service": "price_check",
                "entities": {"item_id": [1, 2], "candidate_id": [3, 4]},
                "full_feature_names": True,
            },
        )
        assert twice.status_code == 200, twice.text
        named = dict(
            zip(twice.json()["metadata"]["feature_names"], twice.json()["results"], strict=True)
        )
        prices = pd.read_parquet(samples["item_catalog"]).set_index("item_id")["price"]
        assert named["item_stats__price"]["values"] == [prices[1], prices[2]]
        assert named["candidate__price"]["values"] == [prices[3], prices[4]]

        # A push with a String key, an embedding, a map and JSON goes through the same gate.
        now = datetime.now(UTC).replace(microsecond=0).isoformat()
        pushed = {
            "user_id": ["9d1c6a1e-0000-4000-8000-000000000001"],
            "event_timestamp": [now],
            "created": [now],
            "age": [41],
            "country": ["NL"],
            "premium": [True],
            "signup_at": [now],
            "embedding": [[0.25] * 16],
            "preferences": [{"newsletter": True}],
            "last_order": [None],
        }
        push = client.post("/push", json={"push_source_name": "user_profile", "df": pushed})
        assert push.status_code == 200, push.text
        read = client.post(
            "/get-online-features",
            json={
                "features": [
                    "user_profile:age",
                    "user_profile:embedding",
                    "user_profile:preferences",
                ],
                "entities": {"user_id": pushed["user_id"]},
            },
        )
        assert read.status_code == 200, read.text
        values = [r["values"][0] for r in read.json()["results"][1:]]
        assert values == [41, [0.25] * 16, {"newsletter": True}]

    out = cli("audit", "parity", "--all")
    assert "mismatches" in out
    out = cli("audit", "parity", "--all", "--service", "recs_v1")
    assert "session_context" in out
    _ = repo


def _from_json(value: Any, type_name: str) -> Any:
    """A JSON answer's value back to Python (bytes travel base64, timestamps as text)."""
    if value is None:
        return None
    if type_name == "Bytes":
        import base64

        return base64.b64decode(value)
    if type_name == "UnixTimestamp":
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return value


def test_a_scaffolded_repository_runs_the_whole_flow(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """``skewless init`` gives a repository that applies, ingests, trains, serves and audits."""
    repo = tmp_path / "shop"
    cli("init", str(repo), "--project", "shop", "--owner", OWNER)
    make_settings("sqlite", repo_path=repo)
    sys.path.insert(0, str(repo))  # the generator imports its contract by plain name
    try:
        module = _samples_module(repo, "sample_data.py")
    finally:
        sys.path.remove(str(repo))
    paths = module.generate_sample(tmp_path / "sample", rows=120, seed=1)
    cli("apply", "--repo", str(repo))
    for source, path in paths.items():
        if source == "user_activity":
            cli("ingest", source, str(path))
    cli("materialize")
    frame = pd.read_parquet(paths["user_activity"])
    entities = frame[["user_id"]].drop_duplicates().head(5).reset_index(drop=True)
    entities["event_timestamp"] = pd.Timestamp.now(tz="UTC")
    entities["basket_value"] = 42.0
    entities.to_parquet(tmp_path / "entities.parquet")
    cli(
        "training-set",
        "--service",
        "user_model_v1",
        "--entities",
        str(tmp_path / "entities.parquet"),
        "--out",
        str(tmp_path / "train.parquet"),
    )
    user = str(entities["user_id"].iloc[0])
    out = cli(
        "online",
        "--service",
        "user_model_v1",
        "--entity",
        f"user_id={user}",
        "--request",
        "basket_value=42.0",
        "--json",
    )
    assert '"PRESENT"' in out
    out = cli("audit", "parity", "--all", "--service", "user_model_v1")
    assert "basket_vs_spend" in out
