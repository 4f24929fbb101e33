"""Provenance records the repository's code version: its git commit, and whether it was dirty.

The demo repository is copied into a fresh git repository; apply, ingest, materialize, a
training set and a model registration then run through the real paths, and the lineage
database is asked what code version each run (and the model version) carries.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from sqlalchemy.orm import Session

from lineage import service
from lineage.identity import job_name
from services.code_version import code_version
from services.ingestion.gate import ingest_file
from services.lineage_events import emit_apply, emit_materialize
from services.online.materialize import materialize
from services.sdk import Client
from services.settings import Settings
from services.store import load_definitions
from tests.demo_repo import write_demo_data
from tests.integration.lineage_pipeline import lineage_session, run_ids

ROOT = Path(__file__).resolve().parents[2]


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def _committed_copy(target: Path) -> str:
    """The demo repository as the first commit of a new git repository; its commit id."""
    shutil.copytree(
        ROOT / "feature_repo", target, ignore=shutil.ignore_patterns("__pycache__", "data")
    )
    _git(target, "init", "-q", "-b", "main")
    (target / ".gitignore").write_text("__pycache__/\ndata/\n")
    _git(target, "add", ".")
    _git(target, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "v1")
    return _git(target, "rev-parse", "HEAD")


def _code_of_run(s: Session, run_id: str) -> str | None:
    (node,) = service.lineage_graph(s, f"run:{run_id}", 0, None)["graph"]
    return node["data"]["codeVersion"]  # type: ignore[no-any-return]


def _latest_run(s: Session, job: str) -> str:
    return run_ids(s, job)[0]


def test_every_data_plane_run_carries_the_commit_and_a_dirty_flag(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    repo = tmp_path / "team_repo"
    commit = _committed_copy(repo)
    settings = make_settings("sqlite", repo_path=repo)
    files = write_demo_data(tmp_path / "raw", seed=3, customers=10, days=3)
    client = Client(settings)
    try:
        client.store.apply(load_definitions(repo))
        emit_apply(settings, client.store)
        ingest_file(client.store, "customer_profile", files.paths["customer_profile"])
        emit_materialize(settings, materialize(client.store, views=["customer_profile"]))
        with lineage_session(settings.effective_lineage_database_url) as s:
            for job in (
                job_name("apply", "customer_profile"),
                job_name("apply_feature_service", "fraud_detection_v1"),
                job_name("ingest", "customer_profile"),
                job_name("materialize", "customer_profile"),
            ):
                assert _code_of_run(s, _latest_run(s, job)) == commit, job

        # An uncommitted edit inside the repository: the next runs say "-dirty".
        with (repo / "definitions.py").open("a") as f:
            f.write("\n# an uncommitted edit\n")
        ingest_file(client.store, "customer_profile", files.paths["customer_profile"])
        for source, path in files.paths.items():
            ingest_file(client.store, source, path)
        entities = pd.read_parquet(files.entities)
        _, ts = client.training_set(entities, "fraud_detection_v1", name="fraud")
        client.register_model("fraud-model", "1", ts.version, {"auc": 0.9})
        with lineage_session(settings.effective_lineage_database_url) as s:
            for job in (job_name("ingest", "customer_profile"), job_name("training_set", "fraud")):
                assert _code_of_run(s, _latest_run(s, job)) == f"{commit}-dirty", job
            found = service.provenance(s, "fraud-model", "1")
            assert found["codeVersion"] == f"{commit}-dirty"
            assert {r["codeVersion"] for r in found["runs"]} >= {f"{commit}-dirty"}
    finally:
        client.close()


def test_a_repository_outside_git_records_no_code_version(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    shutil.copytree(ROOT / "feature_repo", plain, ignore=shutil.ignore_patterns("__pycache__"))
    assert code_version(plain) is None
    assert code_version(tmp_path / "missing") is None


def test_files_outside_the_repository_or_ignored_do_not_make_it_dirty(tmp_path: Path) -> None:
    mono = tmp_path / "mono"
    mono.mkdir()
    commit = _committed_copy(mono / "features")
    (mono / "features" / "data").mkdir()
    (mono / "features" / "data" / "registry.db").write_bytes(b"x")  # ignored
    found = code_version(mono / "features")
    assert found is not None
    assert (found.version, found.path, found.branch) == (commit, ".", "main")
