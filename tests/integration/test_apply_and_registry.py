"""Apply registers exactly what the contracts generate, and the lint refuses bad definitions."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.cli import app
from services.contracts.schema import feast_fields
from services.settings import Settings
from services.store import Store
from tests.demo_repo import contract

runner = CliRunner()
HAND_WRITTEN_VIEW = """
from feast import FeatureView
from feast import Field as _Field
from feast.types import Float32 as _Float32
merchant_risk = FeatureView(
    name="merchant_risk", entities=[merchant], ttl=merchant_risk.ttl, source=merchant_risk_source,
    schema=[_Field(name="fraud_rate_30d", dtype=_Float32, description="d", tags={"owner": "o"})],
    owner="o", description="d",
)
"""
REPO = Path(__file__).resolve().parents[2] / "feature_repo"


def test_registry_agrees_with_the_contracts(applied_store: Store) -> None:
    assert set(applied_store.feature_views) == {
        "customer_transactions_daily",
        "customer_profile",
        "merchant_risk",
    }
    for name in applied_store.feature_views:
        registered = applied_store.feature_views[name]
        expected = feast_fields(contract(name))
        assert [(f.name, f.dtype) for f in registered.features] == [
            (f.name, f.dtype) for f in expected
        ]
        assert registered.owner
        assert registered.description
        assert {f.name: f.tags for f in registered.features} == {f.name: f.tags for f in expected}
    assert set(applied_store.services) == {"fraud_detection_v1", "fraud_detection_v2"}
    v1 = {p.name for p in applied_store.services["fraud_detection_v1"].feature_view_projections}
    v2 = {p.name for p in applied_store.services["fraud_detection_v2"].feature_view_projections}
    assert v2 - v1 == {"merchant_risk"}


def _repo_copy(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(REPO, repo)
    return repo


def _apply(repo: Path) -> tuple[int, str]:
    result = runner.invoke(app, ["apply", "--repo", str(repo)])
    return result.exit_code, result.output


def test_apply_succeeds_on_the_shipped_repo(sqlite_settings: Settings, tmp_path: Path) -> None:
    code, out = _apply(_repo_copy(tmp_path))
    assert code == 0, out
    assert "3 feature views" in out


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        # One owner removed: the entity is named.
        (
            lambda s: s.replace(
                'owner=MERCHANT_TEAM,\n    description="A card-accepting',
                'description="A card-accepting',
            ),
            "entity 'merchant': missing owner",
        ),
        # A feature service without a description.
        (
            lambda s: s.replace('description="v1 plus merchant risk statistics.",', ""),
            "feature_service 'fraud_detection_v2': missing description",
        ),
        # A hand-written view whose field type disagrees with its source's contract.
        (
            lambda s: s + HAND_WRITTEN_VIEW,
            "feature_view 'merchant_risk' field 'fraud_rate_30d': Float32 in Feast but "
            "Float64 in contract 'merchant_risk'",
        ),
    ],
)
def test_lint_refuses_and_names_the_object(
    sqlite_settings: Settings,
    tmp_path: Path,
    edit,
    expected: str,  # type: ignore[no-untyped-def]
) -> None:
    repo = _repo_copy(tmp_path)
    path = repo / "definitions.py"
    before = path.read_text()
    after = edit(before)
    assert after != before, "the edit did not apply"
    path.write_text(after)
    code, out = _apply(repo)
    assert code == 1
    assert re.search(expected, out), out


def test_lint_refuses_pii_without_classification_and_undocumented_fields(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    repo = _repo_copy(tmp_path)
    (repo / "extra.py").write_text(
        "from datetime import timedelta\n"
        "from feast import Entity, FeatureView, Field, FileSource, ValueType\n"
        "from feast.types import String\n"
        "e = Entity(name='device', join_keys=['device_id'], value_type=ValueType.INT64)\n"
        "src = FileSource(name='devices', path='/tmp/none', timestamp_field='event_timestamp')\n"
        "fv = FeatureView(name='devices', entities=[e], ttl=timedelta(days=1), source=src,\n"
        "    schema=[Field(name='ip', dtype=String, tags={'pii': 'true', 'owner': 'sec'})])\n"
    )
    code, out = _apply(repo)
    assert code == 1
    for line in (
        "entity 'device': missing owner",
        "entity 'device': missing description",
        "data_source 'devices': missing owner",
        "feature_view 'devices' field 'ip': missing description",
        "feature_view 'devices' field 'ip': PII-tagged field without a classification",
        "feature_view 'devices': source 'devices' has no contract",
    ):
        assert line in out, out


def test_a_repo_that_fails_to_import_is_a_clear_input_error(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    repo = _repo_copy(tmp_path)
    (repo / "broken.py").write_text("raise RuntimeError('boom')\n")
    code, out = _apply(repo)
    assert code == 2
    assert "broken.py" in out
    assert "boom" in out


def test_apply_removes_what_the_repository_no_longer_declares(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    # Regression: apply registered the repository but deleted nothing, so a removed feature
    # service was still served and a renamed one left its old name behind.
    repo = _repo_copy(tmp_path)
    code, out = _apply(repo)
    assert code == 0, out
    assert "removed:" not in out
    definitions = repo / "definitions.py"
    text = definitions.read_text()
    v2 = text[text.index("fraud_detection_v2 = FeatureService(") :]
    text = text.replace(v2, "").replace('name="fraud_detection_v1"', 'name="fraud_detection"')
    definitions.write_text(text)

    code, out = _apply(repo)
    assert code == 0, out
    assert "removed: feature service 'fraud_detection_v2' (no longer in the repository)" in out
    assert "removed: feature service 'fraud_detection_v1'" in out
    store = Store(sqlite_settings.model_copy(update={"repo_path": repo}))
    assert set(store.services) == {"fraud_detection"}
    assert len(store.feature_views) == 3  # the views stay: the remaining service uses them
    code, out = _apply(repo)  # nothing left to remove
    assert code == 0, out
    assert "removed:" not in out
    online = runner.invoke(
        app, ["online", "--service", "fraud_detection_v2", "--entity", "customer_id=1"]
    )
    assert online.exit_code == 2
    assert "fraud_detection_v2" in online.output
