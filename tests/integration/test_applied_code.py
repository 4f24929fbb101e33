"""The data plane runs the repository as applied, never its working tree (``services.applied``).

A copy of the card-fraud repository is applied with ``skewless apply`` and loaded with data.
Its on-demand view's function is then edited without an apply: serving (the CLI on both its
paths, and the feature server) and training sets keep running the applied function, and the
CLI says the working tree has changes not applied. After ``skewless apply`` both run the new
one, together. A file with a syntax error left in the working tree breaks nothing that was
applied; the apply that would take it is refused and changes nothing.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import httpx
import pandas as pd
import pytest

from services import applied
from services.ingestion.gate import ingest_file
from services.sdk import Client
from services.serving_plan import load_service_plan, plan_path
from services.settings import Settings
from services.store import Store, load_definitions
from tests.cli import cli, cli_result
from tests.demo_repo import write_demo_data
from tests.integration.serving.conftest import ServerThread

ROOT = Path(__file__).resolve().parents[2]
SERVICE = "fraud_detection_v2"
FEATURE = "amount_minus_avg_30d"
ONLINE = (
    "online",
    f"--service={SERVICE}",
    "--entity=customer_id=1",
    "--entity=merchant_id=1",
    "--request=transaction_amount=3.0",
    "--json",
)
# Appended to transforms.py: the function the on-demand view runs now adds 1000 to its output.
EDIT = f"""

_applied_frame = transaction_risk_frame


def transaction_risk_frame(inputs):  # noqa: F811
    out = _applied_frame(inputs)
    out["{FEATURE}"] = out["{FEATURE}"] + 1000.0
    return out
"""


@pytest.fixture
def demo(make_settings: Callable[..., Settings], tmp_path: Path) -> Settings:
    """The demo repository copied, applied with ``skewless apply``, its data ingested."""
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "feature_repo", repo, ignore=shutil.ignore_patterns("__pycache__"))
    settings = make_settings("sqlite", repo_path=repo)
    cli("apply")
    files = write_demo_data(tmp_path / "raw", customers=20, days=8, seed=5)
    store = Store(settings)
    try:
        for name, path in files.paths.items():
            assert ingest_file(store, name, path).accepted
    finally:
        store.close()
    return settings


def _online(*, note: bool) -> float:
    result = cli_result(*ONLINE)
    said = applied_note_in(result.stderr)
    assert said is note, result.stderr
    rows = json.loads(result.stdout)
    return float(next(r["value"] for r in rows if r["feature"] == FEATURE))


def applied_note_in(stderr: str) -> bool:
    return "has changes not applied" in stderr


def _training(settings: Settings) -> pd.Series:
    entities = pd.DataFrame(
        {
            "customer_id": [1, 2, 3],
            "merchant_id": [1, 1, 2],
            "transaction_amount": [3.0, 10.0, 0.5],
            "event_timestamp": pd.Timestamp.now(tz="UTC").floor("s"),
        }
    )
    with Client(settings) as client:
        frame, _ = client.training_set(entities, SERVICE)
    return frame[FEATURE].reset_index(drop=True)


def _served(settings: Settings) -> float:
    body = {
        "feature_service": SERVICE,
        "entities": {"customer_id": [1], "merchant_id": [1], "transaction_amount": [3.0]},
    }
    with ServerThread(settings) as srv, httpx.Client(base_url=srv.url, timeout=30) as client:
        answer = client.post("/get-online-features", json=body)
    assert answer.status_code == 200, answer.text
    names = answer.json()["metadata"]["feature_names"]
    return float(answer.json()["results"][names.index(FEATURE)]["values"][0])


def test_an_unapplied_edit_runs_nowhere_until_apply(demo: Settings) -> None:
    before_online, before_training = _online(note=False), _training(demo)
    transforms = demo.repo_path / "transforms.py"
    transforms.write_text(transforms.read_text() + EDIT)

    # The plan written at apply is still current: it was built from the applied code.
    assert load_service_plan(demo, SERVICE) is not None
    assert _online(note=True) == before_online
    plan_path(demo).unlink()  # the full path (Feast's registry, the repository) agrees
    assert _online(note=True) == before_online
    assert _served(demo) == before_online
    pd.testing.assert_series_equal(_training(demo), before_training)

    cli("apply")
    assert _online(note=False) == pytest.approx(before_online + 1000.0)
    assert _served(demo) == pytest.approx(before_online + 1000.0)
    pd.testing.assert_series_equal(_training(demo), before_training + 1000.0)


def test_a_broken_file_in_the_working_tree_breaks_nothing_applied(demo: Settings) -> None:
    before = _online(note=False)
    (demo.repo_path / "scratch.py").write_text("def half_written(:\n")

    plan_path(demo).unlink()
    assert _online(note=True) == before
    assert _served(demo) == before
    refused = cli_result("apply", code=2)
    assert "scratch.py" in refused.stderr
    assert _online(note=True) == before  # the refused apply moved nothing


def test_definitions_applied_from_code_run_the_repository_as_it_is(demo: Settings) -> None:
    """An apply of definitions built in code (no repository to pin) drops the pin."""
    assert applied.pinned(demo) is not None
    store = Store(demo)
    try:
        store.apply(load_definitions(demo.repo_path))
    finally:
        store.close()
    assert applied.pinned(demo) is None
    assert applied.repository_path(demo) == demo.repo_path.resolve()
    assert applied.unapplied_note(demo) is None


def test_a_copy_holds_every_module_and_the_newest_copies_are_kept(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "__init__.py").write_text("")
    (repo / "pkg" / "views.py").write_text("from helpers import VALUE\n")
    (repo / "helpers.py").write_text("VALUE = 1\n")  # hidden from Feast's scan, still imported
    (repo / ".feastignore").write_text("helpers.py\n")
    (repo / "feature_store.yaml").write_text("project: p\n")
    (repo / ".venv" / "lib").mkdir(parents=True)
    (repo / ".venv" / "lib" / "site.py").write_text("")
    settings = make_settings("sqlite", repo_path=repo)

    first = applied.pin(settings, repo)
    files = [p for p in first.path.rglob("*") if p.is_file()]
    copied = sorted(p.relative_to(first.path).as_posix() for p in files)
    assert copied == [
        ".feastignore",
        "feature_store.yaml",
        "helpers.py",
        "pkg/__init__.py",
        "pkg/views.py",
    ]
    assert applied.unapplied_note(settings) is None
    paths = [first.path]
    for value in range(2, 2 + applied.KEEP + 1):
        (repo / "helpers.py").write_text(f"VALUE = {value}\n")
        paths.append(applied.pin(settings, repo).path)
        assert applied.unapplied_note(settings) is None
    (repo / "helpers.py").write_text("VALUE = 0\n")
    assert applied.unapplied_note(settings) is not None
    kept = [p for p in paths if p.is_dir()]
    assert kept == paths[-applied.KEEP :]
    assert applied.repository_path(settings) == paths[-1]
