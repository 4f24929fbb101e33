"""Each project's files in its own folders of the data dir; an older data dir moved once.

Two projects sharing a data dir used to share ``offline/<source>``: a project read the other's
versions of a source of the same name (and its quarantine, training sets and served logs).
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.contracts import BenchUserActivity
from services.data_layout import KINDS, LAYOUT_FILE, VERSION
from services.ingestion.conform import Failures, conform
from services.offline.datasets import list_versions, write_version
from services.settings import Settings
from tests.unit.test_conform_and_hash import activity_rows

SOURCE = "bench_user_activity"


def _write(offline: Path, seed: int) -> str:
    frame = conform(activity_rows(5, seed), BenchUserActivity, Failures())
    version, _ = write_version(offline, BenchUserActivity, frame, quarantined=0, received=5)
    return version.version


def test_two_projects_in_one_data_dir_keep_their_sources_apart(tmp_path: Path) -> None:
    one = Settings(data_dir=tmp_path, project="one")
    two = Settings(data_dir=tmp_path, project="two")
    mine = _write(one.offline_dir, seed=1)
    assert [v.version for v in list_versions(one.offline_dir, SOURCE)] == [mine]
    assert list_versions(two.offline_dir, SOURCE) == []
    theirs = _write(two.offline_dir, seed=2)
    assert [v.version for v in list_versions(two.offline_dir, SOURCE)] == [theirs]
    assert [v.version for v in list_versions(one.offline_dir, SOURCE)] == [mine]
    for kind in ("quarantine_dir", "training_dir", "served_dir"):
        assert getattr(one, kind) != getattr(two, kind)
        assert getattr(one, kind).parent == getattr(two, kind).parent


def _legacy(data: Path) -> str:
    """A data dir as earlier releases wrote it: the kinds' folders hold sources directly."""
    version = _write(data / "offline", seed=3)
    (data / "offline" / ".spark-spill").mkdir()
    for kind, name in (("quarantine", SOURCE), ("training_sets", "train"), ("served", "svc")):
        (data / kind / name).mkdir(parents=True)
        (data / kind / name / "part.parquet").write_bytes(b"x")
    return version


def test_an_older_data_dir_is_moved_into_the_first_projects_folders(tmp_path: Path) -> None:
    version = _legacy(tmp_path)
    # A project named like one of its sources: the move must not collide with the source.
    settings = Settings(data_dir=tmp_path, project=SOURCE)
    assert [v.version for v in list_versions(settings.offline_dir, SOURCE)] == [version]
    assert settings.offline_dir == tmp_path / "offline" / SOURCE
    assert (settings.quarantine_dir / SOURCE / "part.parquet").is_file()
    assert (settings.training_dir / "train" / "part.parquet").is_file()
    assert (settings.served_dir / "svc" / "part.parquet").is_file()
    assert (tmp_path / "offline" / ".spark-spill").is_dir()  # not a source: left where it was
    assert json.loads((tmp_path / LAYOUT_FILE).read_text())["version"] == VERSION
    assert not list(tmp_path.glob("*.moving"))
    other = Settings(data_dir=tmp_path, project="other")
    assert list_versions(other.offline_dir, SOURCE) == []


def test_a_move_cut_short_is_finished_by_the_next_process(tmp_path: Path) -> None:
    version = _legacy(tmp_path)
    for kind in KINDS:  # as a crash right after the first rename leaves it
        (tmp_path / kind).rename(tmp_path / f"{kind}.moving")
    settings = Settings(data_dir=tmp_path, project="p")
    assert [v.version for v in list_versions(settings.offline_dir, SOURCE)] == [version]
    assert (settings.served_dir / "svc" / "part.parquet").is_file()
    assert not list(tmp_path.glob("*.moving"))


def test_a_new_data_dir_is_marked_current_and_nothing_moves(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "fresh", project="p")
    assert settings.offline_dir == tmp_path / "fresh" / "offline" / "p"
    assert not (tmp_path / "fresh").exists()  # a look at a data dir not made yet writes nothing
    (tmp_path / "fresh").mkdir()  # as opening the store does, before anything is written
    assert settings.offline_dir == tmp_path / "fresh" / "offline" / "p"
    assert "moved_into" not in json.loads((tmp_path / "fresh" / LAYOUT_FILE).read_text())
