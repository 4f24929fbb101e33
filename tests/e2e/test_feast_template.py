"""Feast's own ``feast init`` repository is onboarded as the README says, end to end.

The template is what a team starting from Feast has: an entity without ``value_type`` (Feast
infers the key's type from the data), sample data whose ``created`` column holds times without
a zone (Feast reads them as UTC), push sources, on-demand views over request data, and a label
view. ``contracts infer`` types the key and declares the naive times UTC from the sample; the
team documents its objects (what ``apply`` asks of every repository); then apply, ingest of
Feast's own sample, materialize, an online read and the offline/online parity audit all pass.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from services.settings import Settings
from tests.cli import cli_result
from tests.integration.serving.conftest import ServerThread

pytestmark = [pytest.mark.e2e]

OWNER = "drivers@example.com"
SOURCE = "driver_hourly_stats_source"

# What the team writes by hand before `skewless apply`: an owner and a description for every
# object and field (on-demand fields are described in tags: Feast compares their fields whole).
DOCUMENTED = """

def _document() -> None:
    from feast.data_source import DataSource
    from feast.on_demand_feature_view import OnDemandFeatureView

    kinds = (Entity, DataSource, FeatureView, OnDemandFeatureView, FeatureService)
    for obj in [o for o in globals().values() if isinstance(o, kinds)]:
        obj.owner = "drivers@example.com"
        obj.description = obj.description or f"The template's {obj.name}."
        for fld in [*getattr(obj, "schema", []), *getattr(obj, "features", [])]:
            text = fld.description or f"{fld.name} of {obj.name}."
            if isinstance(obj, OnDemandFeatureView):
                obj.tags[f"field.{fld.name}.description"] = text
            else:
                fld.description = text


_document()
"""


def _cli(*args: str, code: int = 0) -> tuple[str, str]:
    result = cli_result(*args, code=code)
    return result.stdout, result.stderr


def feast_init(folder: Path, name: str, *template: str) -> Path:
    """Feast's own CLI makes repository ``name`` in ``folder``; its ``feature_repo``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SKEWLESS_", "LINEAGE_"))}
    feast = Path(sys.executable).parent / "feast"
    done = subprocess.run(
        [str(feast), "init", *template, name],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return folder / name / "feature_repo"


@pytest.fixture
def template(make_settings: Callable[..., Settings], tmp_path: Path) -> tuple[Settings, Path]:
    """A fresh ``feast init`` repository, made by Feast's own CLI."""
    repo = feast_init(tmp_path, "drivers")
    return make_settings("sqlite", repo_path=repo), repo


def test_feast_init_repository_onboards_end_to_end(
    template: tuple[Settings, Path], tmp_path: Path
) -> None:
    _, repo = template
    samples = tmp_path / "samples"
    samples.mkdir()
    shutil.copy(repo / "data" / "driver_stats.parquet", samples / f"{SOURCE}.parquet")

    _cli("contracts", "infer", "--repo", str(repo), "--sample", str(samples), "--owner", OWNER)
    contract = (repo / f"{SOURCE}_contract.py").read_text()
    assert "driver_id: Series[int]" in contract  # typed from the sample, as Feast infers it
    assert '"naive": "UTC"' in contract  # its `created` times carry no zone

    # Untouched, apply names what is undocumented (and nothing about the key's type).
    _, err = _cli("apply", "--repo", str(repo), code=1)
    assert "entity 'driver': missing owner" in err
    assert "type" not in err

    definitions = repo / "feature_definitions.py"
    definitions.write_text(definitions.read_text() + DOCUMENTED)
    for path in repo.glob("*_contract.py"):
        text = path.read_text().replace('description=""', 'description="Documented."')
        path.write_text(text.replace('description = ""', 'description = "Documented."'))
    out, err = _cli("apply", "--repo", str(repo))
    assert "2 feature views, 2 on-demand views, 3 feature services" in out
    assert "warning: not applied: LabelView 'driver_quality_labels'" in err

    # Feast's sample repeats one row exactly: both copies go to quarantine with the reason, the
    # rest is written (the naive `created` times as UTC).
    out, _ = _cli("ingest", SOURCE, str(samples / f"{SOURCE}.parquet"), "--json")
    report = json.loads(out)
    assert (report["received"], report["written"], report["quarantined"]) == (1807, 1805, 2)
    details = json.loads(Path(report["report_path"]).read_text())
    assert details["failed_checks"] == {"duplicate_key": 2}
    _cli("materialize")
    out, _ = _cli(
        "online", "--service", "driver_activity_v1", "--entity", "driver_id=1001",
        "--request", "val_to_add=1", "--request", "val_to_add_2=2", "--json",
    )  # fmt: skip
    assert '"conv_rate_plus_val1"' in out
    assert '"PRESENT"' in out
    _cli("audit", "parity", "--all", "--service", "driver_activity_v1")

    # Feast's clients push to the template's PushSource by its name; the rows go through the
    # contract of the batch source it wraps and are served at once.
    settings, _ = template
    now = datetime.now(UTC).replace(microsecond=0)
    row = {
        "driver_id": [1001],
        "event_timestamp": [now.isoformat()],
        "created": [now.replace(tzinfo=None).isoformat()],
        "conv_rate": [0.25],
        "acc_rate": [0.5],
        "avg_daily_trips": [7],
        "driver_metadata": [{"vehicle_type": "van", "rating": "4.5"}],
        "driver_config": ['{"max_distance_km": 10}'],
        "driver_profile": [{"name": "driver_1001", "age": "40"}],
    }
    with ServerThread(settings) as srv, httpx.Client(base_url=srv.url, timeout=30) as http:
        pushed = http.post(
            "/push", json={"push_source_name": "driver_stats_push_source", "df": row}
        )
        assert pushed.status_code == 200, pushed.text
        assert pushed.json()["source"] == SOURCE
        read = http.post(
            "/get-online-features",
            json={"features": ["driver_hourly_stats:conv_rate"], "entities": {"driver_id": [1001]}},
        )
        assert read.status_code == 200, read.text
        assert read.json()["results"][1]["values"] == [0.25]
