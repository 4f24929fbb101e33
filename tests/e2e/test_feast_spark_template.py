"""Feast's ``feast init -t spark`` repository onboards: its yaml as Feast reads it, Spark quiet.

The template declares ``offline_store: type: spark`` (Skewless then runs its point-in-time rule
on Spark) and an ``online_store`` with a path but no type, which Feast reads as SQLite and
Skewless refused ("online_store type None"). Every command printed Feast's note on its
experimental SparkSource (at each registry read), and Spark's start-up notes, WARN lines and
progress bars. Its entities name no join keys, so their keys are ``driver`` and ``customer``
while its data holds ``driver_id`` and ``customer_id``: ``contracts infer`` says so on one line
(Feast's own materialization of the template would fail on the missing column); with the join
keys named, the rest goes through as the README says.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.cli import cli_result
from tests.e2e.test_feast_template import DOCUMENTED, feast_init

pytestmark = [pytest.mark.e2e]

OWNER = "drivers@example.com"
SOURCES = ("driver_hourly_stats", "customer_daily_profile")


def _cli(*args: str, code: int = 0) -> tuple[str, str]:
    result = cli_result(*args, code=code)
    assert "Warning" not in result.stderr, (args, result.stderr)
    return result.stdout, result.stderr


@pytest.fixture
def spark_template(spark_session: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh ``feast init -t spark`` repository (Spark's session is the test run's own)."""
    repo = feast_init(tmp_path, "drivers", "-t", "spark")
    for key in [k for k in os.environ if k.startswith(("SKEWLESS_", "LINEAGE_"))]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("SKEWLESS_REPO_PATH", str(repo))
    monkeypatch.setenv("SKEWLESS_DATA_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("SKEWLESS_SPARK_MASTER", "local[2]")
    return repo


def test_feast_spark_template_onboards_end_to_end(spark_template: Path, tmp_path: Path) -> None:
    repo = spark_template
    samples = tmp_path / "samples"
    samples.mkdir()
    for source in SOURCES:
        shutil.copy(repo / "data" / f"{source}.parquet", samples / f"{source}.parquet")
    infer = ("contracts", "infer", "--sample", str(samples), "--owner", OWNER)

    # The yaml is read as Feast reads it; the template's own inconsistency is named on one line.
    _, err = _cli(*infer, code=2)
    assert "join key 'driver' has no type" in err
    assert len(err.strip().splitlines()) == 1

    definitions = repo / "feature_definitions.py"
    text = definitions.read_text()
    for entity in ("driver", "customer"):
        text = text.replace(
            f'name="{entity}",', f'name="{entity}",\n    join_keys=["{entity}_id"],'
        )
    definitions.write_text(text + DOCUMENTED)
    _cli(*infer)
    for path in repo.glob("*_contract.py"):
        path.write_text(path.read_text().replace('description=""', 'description="Documented."'))

    out, _ = _cli("apply")
    assert "2 feature views, 0 on-demand views, 1 feature services" in out
    for source in SOURCES:
        out, _ = _cli("ingest", source, str(samples / f"{source}.parquet"), "--json")
        assert json.loads(out)["dataset_version"]
    _cli("materialize")
    out, _ = _cli(
        "online", "--service", "driver_activity", "--entity", "driver_id=1001",
        "--entity", "customer_id=201", "--json",
    )  # fmt: skip
    values = {row["feature"]: row for row in json.loads(out)}
    assert values["conv_rate"]["status"] == "PRESENT"
    assert values["lifetime_trip_count"]["status"] == "PRESENT"

    entities = tmp_path / "entities.parquet"
    at = pd.Timestamp.now(tz="UTC")
    pd.DataFrame(
        {"driver_id": [1001, 1002], "customer_id": [201, 202], "event_timestamp": [at, at]}
    ).to_parquet(entities)
    train = tmp_path / "train.parquet"
    _cli("training-set", "--service", "driver_activity", "--entities", str(entities),
         "--out", str(train))  # fmt: skip
    frame = pd.read_parquet(train)
    assert frame["conv_rate"].notna().all()
    _cli("audit", "parity", "--all", "--service", "driver_activity")

    # In a process of its own, Spark starts quiet: none of its notes, WARN lines or progress
    # bars on stderr, only the JVM's own line about its incubator module.
    skewless = Path(sys.executable).parent / "skewless"
    done = subprocess.run(
        [str(skewless), "materialize"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    noise = [line for line in done.stderr.splitlines() if "Using incubator modules" not in line]
    assert noise == []
