"""`skewless contracts infer` on a Feast repository that is not the demo's.

The repository has an Int64 and a String entity, a view keyed by both, a second view over
the same source, a view without a sample, every document type and a request source.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from services.cli_repo import contracts_app
from services.contracts.base import ColumnSpec
from services.contracts.infer import CREATED_DESCRIPTION, EVENT_DESCRIPTION, infer_contracts
from services.contracts.schema import column_specs, source_spec
from services.errors import ContractError, InputError, UnreadableInputError
from services.store import load_definitions
from tests.demo_repo import import_path

ROOT = Path(__file__).resolve().parents[2]

DEFINITIONS = """
from datetime import timedelta

import pandas as pd
from feast import Entity, FeatureView, Field, FileSource, RequestSource, ValueType
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Array, Bytes, Float32, Float64, Int32, Int64, Json, Map, String, Struct

driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64,
                description="A driver.", owner="fleet@x")
city = Entity(name="city", join_keys=["city_code"], value_type=ValueType.STRING,
              description="A city.")

trips = FileSource(name="trips", path="data/trips.parquet", timestamp_field="event_ts",
                   created_timestamp_column="created_ts", description="Trips per driver and city.")

driver_city_trips = FeatureView(
    name="driver_city_trips", entities=[driver, city], ttl=timedelta(hours=48), source=trips,
    owner="trips-team@x",
    schema=[
        Field(name="trip_count", dtype=Int64, description="Trips today.", tags={"owner": "ops@x"}),
        Field(name="rating", dtype=Float32, description="Mean rating."),
        Field(name="route_embedding", dtype=Array(Float32), description="Route embedding."),
        Field(name="photo", dtype=Bytes, tags={"pii": "true", "classification": "restricted"}),
        Field(name="attributes", dtype=Map, description="Free attributes."),
        Field(name="raw_event", dtype=Json, description="The raw event."),
        Field(name="vehicle", dtype=Struct({"seats": Int64, "make": String}),
              description="The vehicle."),
    ],
)

driver_trips_lite = FeatureView(
    name="driver_trips_lite", entities=[driver], ttl=timedelta(hours=48), source=trips,
    schema=[Field(name="rating", dtype=Float32), Field(name="cancellations", dtype=Int32)],
)

profile = FileSource(name="driver_profile", path="data/profile.parquet",
                     timestamp_field="event_timestamp")
driver_profile = FeatureView(name="driver_profile", entities=[driver], source=profile,
                             schema=[Field(name="age", dtype=Int64)])

ride_request = RequestSource(
    name="ride_request", description="What the rider asks for.",
    schema=[Field(name="distance_km", dtype=Float64, description="Requested distance.")],
)


@on_demand_feature_view(sources=[driver_city_trips, ride_request],
                        schema=[Field(name="rating_per_km", dtype=Float64)], mode="pandas")
def rating_per_km(inputs: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame({"rating_per_km": inputs["rating"] / inputs["distance_km"]})
"""

UTC_US = pa.timestamp("us", tz="UTC")
VEHICLE = pa.struct([("seats", pa.int64()), ("make", pa.string())])


def _trips_sample() -> pa.Table:
    return pa.table(
        {
            "driver_id": pa.array([3, 7, 11], pa.int64()),
            "city_code": ["LON", "PAR", "LON"],
            "event_ts": pa.array([1_700_000_000_000_000] * 3, UTC_US),
            "created_ts": pa.array([1_700_000_100_000_000] * 3, UTC_US),
            "trip_count": pa.array([4, None, 12], pa.int64()),
            "rating": pa.array([4.5, 3.25, 5.0], pa.float32()),
            "route_embedding": pa.array(
                [[0.5, -0.25, 1.0], [0.0, 0.75, -1.0], None], pa.list_(pa.float32())
            ),
            "photo": pa.array([b"\x00", b"\x01", b"\x02"], pa.binary()),
            "attributes": ['{"a": 1}', "{}", None],
            "raw_event": ["[1]", "{}", "null"],
            "vehicle": pa.array([{"seats": 4, "make": "X"}] * 3, VEHICLE),
            "cancellations": pa.array([0, 2, 1], pa.int32()),
            "shift": ["day", "night", "day"],  # in the sample, in no view
        }
    )


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, Path]:
    repo_dir, samples = tmp_path / "repo", tmp_path / "samples"
    repo_dir.mkdir()
    samples.mkdir()
    (repo_dir / "definitions.py").write_text(DEFINITIONS)
    pq.write_table(_trips_sample(), samples / "trips.parquet")
    pq.write_table(pa.table({"distance_km": [1.5, 20.0]}), samples / "ride_request.parquet")
    return repo_dir, samples


def _import(path: Path) -> ModuleType:
    return import_path(path, "_inferred")  # type: ignore[no-any-return]


def _specs(path: Path, class_name: str) -> dict[str, ColumnSpec]:
    contract = getattr(_import(path), class_name)
    return {c.name: c for c in column_specs(contract)}


def _facts(spec: ColumnSpec) -> dict[str, Any]:
    return {
        "type": str(spec.type),
        "role": spec.role,
        "nullable": spec.nullable,
        "owner": spec.owner,
    }


def test_one_module_per_source_that_imports_and_is_ruff_clean(repo: tuple[Path, Path]) -> None:
    repo_dir, samples = repo
    inferred = infer_contracts(repo_dir, samples, owner="platform@x")
    written = inferred.written
    assert inferred.kept == {}
    assert [p.name for p in written] == [
        "trips_contract.py",
        "driver_profile_contract.py",
        "ride_request_contract.py",
    ]
    ruff = [sys.executable, "-m", "ruff"]
    config = ["--config", str(ROOT / "pyproject.toml"), "--no-cache"]
    for args in (["check"], ["format", "--check"]):
        result = subprocess.run([*ruff, *args, *config, *map(str, written)], capture_output=True)
        assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    text = written[0].read_text()
    assert text.startswith('"""Contract of the ``trips`` source, generated by')
    assert "driver_city_trips, driver_trips_lite" in text
    assert "trips.parquet (3 rows)" in text
    # The repository still loads with its contracts in it, and a second run changes nothing.
    assert len(load_definitions(repo_dir).feature_views) == 3
    assert infer_contracts(repo_dir, samples, owner="platform@x") == inferred


def test_keys_timestamps_and_features_get_types_roles_and_nullability(
    repo: tuple[Path, Path],
) -> None:
    repo_dir, samples = repo
    infer_contracts(repo_dir, samples, owner="platform@x")
    specs = _specs(repo_dir / "trips_contract.py", "Trips")
    assert {name: _facts(s) for name, s in specs.items()} == {
        "driver_id": {"type": "Int64", "role": "entity", "nullable": False, "owner": "fleet@x"},
        "city_code": {
            "type": "String",
            "role": "entity",
            "nullable": False,
            "owner": "trips-team@x",
        },
        "event_ts": {
            "type": "UnixTimestamp",
            "role": "event_timestamp",
            "nullable": False,
            "owner": "trips-team@x",
        },
        "created_ts": {
            "type": "UnixTimestamp",
            "role": "created_timestamp",
            "nullable": False,
            "owner": "trips-team@x",
        },
        "trip_count": {"type": "Int64", "role": "feature", "nullable": True, "owner": "ops@x"},
        "rating": {
            "type": "Float32",
            "role": "feature",
            "nullable": False,
            "owner": "trips-team@x",
        },
        "route_embedding": {
            "type": "Array(Float32)",
            "role": "feature",
            "nullable": True,
            "owner": "trips-team@x",
        },
        "photo": {"type": "Bytes", "role": "feature", "nullable": False, "owner": "trips-team@x"},
        "attributes": {"type": "Map", "role": "feature", "nullable": True, "owner": "trips-team@x"},
        "raw_event": {
            "type": "Json",
            "role": "feature",
            "nullable": False,
            "owner": "trips-team@x",
        },
        "vehicle": {
            "type": "Struct({seats: Int64, make: String})",
            "role": "feature",
            "nullable": False,
            "owner": "trips-team@x",
        },
        "cancellations": {
            "type": "Int32",
            "role": "feature",
            "nullable": False,
            "owner": "platform@x",
        },
        "shift": {"type": "String", "role": "feature", "nullable": False, "owner": "trips-team@x"},
    }
    source = source_spec(_import(repo_dir / "trips_contract.py").Trips)
    assert (source.keys, source.event_timestamp, source.created_timestamp) == (
        ("driver_id", "city_code"),
        "event_ts",
        "created_ts",
    )
    assert (source.owner, source.description) == ("trips-team@x", "Trips per driver and city.")
    assert source.ttl.total_seconds() == 48 * 3600


def test_ranges_descriptions_and_tags_come_from_the_sample_and_feast(
    repo: tuple[Path, Path],
) -> None:
    repo_dir, samples = repo
    infer_contracts(repo_dir, samples, owner="platform@x")
    specs = _specs(repo_dir / "trips_contract.py", "Trips")
    # A key's observed range is no rule: a new driver would be refused.
    assert (specs["driver_id"].ge, specs["driver_id"].le) == (None, None)
    assert (specs["trip_count"].ge, specs["trip_count"].le) == (4, 12)
    assert (specs["rating"].ge, specs["rating"].le) == (3.25, 5.0)
    embedding = specs["route_embedding"]
    assert (embedding.type.length, embedding.element_ge, embedding.element_le) == (3, -1.0, 1.0)
    assert specs["driver_id"].description == "A driver."
    assert specs["trip_count"].description == "Trips today."
    assert specs["event_ts"].description == EVENT_DESCRIPTION
    assert specs["created_ts"].description == CREATED_DESCRIPTION
    assert (specs["photo"].pii, specs["photo"].classification) == (True, "restricted")
    # Unknown stays blank, for `skewless apply` to name.
    assert specs["photo"].description == ""
    assert specs["shift"].description == ""
    request = _specs(repo_dir / "ride_request_contract.py", "RideRequest")
    assert _facts(request["distance_km"]) == {
        "type": "Float64",
        "role": "request",
        "nullable": False,
        "owner": "platform@x",
    }
    assert (request["distance_km"].ge, request["distance_km"].le) == (1.5, 20.0)
    contract = _import(repo_dir / "ride_request_contract.py").RideRequest
    assert contract.Config.metadata == {"owner": "platform@x", "request": True}


def test_without_a_sample_or_an_owner_keys_are_required_and_blanks_stay_blank(
    repo: tuple[Path, Path],
) -> None:
    repo_dir, samples = repo
    infer_contracts(repo_dir, samples, owner=None)
    profile = _specs(repo_dir / "driver_profile_contract.py", "DriverProfile")
    assert {name: _facts(s) for name, s in profile.items()} == {
        "driver_id": {"type": "Int64", "role": "entity", "nullable": False, "owner": "fleet@x"},
        "event_timestamp": {
            "type": "UnixTimestamp",
            "role": "event_timestamp",
            "nullable": False,
            "owner": "",
        },
        "age": {"type": "Int64", "role": "feature", "nullable": True, "owner": ""},
    }
    assert (profile["age"].ge, profile["age"].description) == (None, "")
    contract = _import(repo_dir / "driver_profile_contract.py").DriverProfile
    assert (source_spec(contract).owner, source_spec(contract).description) == ("", "")
    assert _specs(repo_dir / "trips_contract.py", "Trips")["cancellations"].owner == ""


def test_an_existing_module_that_differs_is_kept_unless_overwrite(
    repo: tuple[Path, Path],
) -> None:
    repo_dir, samples = repo
    target = repo_dir / "trips_contract.py"
    target.write_text('"""Hand-written."""\n')
    with pytest.raises(InputError, match=r"trips_contract\.py: exists and differs.*--overwrite"):
        infer_contracts(repo_dir, samples, owner=None)
    assert target.read_text() == '"""Hand-written."""\n'
    assert not (repo_dir / "ride_request_contract.py").exists()  # nothing half-written
    infer_contracts(repo_dir, samples, owner=None, overwrite=True)
    assert "class Trips(SourceContract)" in target.read_text()


def test_views_that_disagree_on_a_type_are_named(repo: tuple[Path, Path]) -> None:
    repo_dir, samples = repo
    text = DEFINITIONS.replace(
        'name="rating", dtype=Float32), Field(name="canc',
        'name="rating", dtype=Float64), Field(name="canc',
    )
    (repo_dir / "definitions.py").write_text(text)
    with pytest.raises(
        ContractError,
        match="'driver_city_trips' declares Float32 but view 'driver_trips_lite' declares Float64",
    ):
        infer_contracts(repo_dir, samples, owner=None)


def test_a_type_skewless_cannot_store_names_the_view_and_field(repo: tuple[Path, Path]) -> None:
    repo_dir, samples = repo
    text = DEFINITIONS.replace("dtype=Bytes,", "dtype=ImageBytes,").replace(
        "from feast.types import", "from feast.types import ImageBytes,"
    )
    (repo_dir / "definitions.py").write_text(text)
    with pytest.raises(InputError, match=r"view 'driver_city_trips' field 'photo': .*IMAGE_BYTES"):
        infer_contracts(repo_dir, samples, owner=None)


def test_missing_directories_and_unreadable_samples_are_one_line(
    repo: tuple[Path, Path], tmp_path: Path
) -> None:
    repo_dir, samples = repo
    with pytest.raises(InputError, match="nowhere: repository not found") as missing:
        infer_contracts(tmp_path / "nowhere", samples, owner=None)
    assert "\n" not in str(missing.value)
    with pytest.raises(InputError, match="nosamples: sample directory not found"):
        infer_contracts(repo_dir, tmp_path / "nosamples", owner=None)
    (samples / "trips.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(
        UnreadableInputError, match=r"trips\.parquet: cannot read the sample"
    ) as bad:
        infer_contracts(repo_dir, samples, owner=None)
    assert "\n" not in str(bad.value)


def test_a_csv_sample_is_read_when_there_is_no_parquet(repo: tuple[Path, Path]) -> None:
    repo_dir, samples = repo
    (samples / "ride_request.parquet").unlink()
    (samples / "ride_request.csv").write_text("distance_km,promo\n2.5,A\n,B\n")
    infer_contracts(repo_dir, samples, owner=None)
    request = _specs(repo_dir / "ride_request_contract.py", "RideRequest")
    assert (request["distance_km"].nullable, request["distance_km"].ge) == (True, 2.5)
    assert _facts(request["promo"]) == {
        "type": "String",
        "role": "request",
        "nullable": False,
        "owner": "",
    }


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(contracts_app, name="contracts")
    app.command("noop")(lambda: None)  # two commands: Typer keeps the group
    return app


def test_the_command_prints_a_line_per_file_and_exits_2_on_bad_input(
    repo: tuple[Path, Path], tmp_path: Path
) -> None:
    repo_dir, samples = repo
    runner = CliRunner()
    args = ["contracts", "infer", "--repo", str(repo_dir), "--sample", str(samples)]
    result = runner.invoke(_cli(), [*args, "--owner", "platform@x"])
    assert result.exit_code == 0, result.output
    assert result.stdout.count("contract: ") == 3
    assert str(repo_dir / "trips_contract.py") in result.stdout.splitlines()[0]
    missing = runner.invoke(_cli(), [*args[:-1], str(tmp_path / "none")])
    assert missing.exit_code == 2
    # Rich wraps stderr at 80 columns in services.cli_common (reported); the words are what count.
    assert missing.stderr.startswith("error: ")
    assert "none: sample directory not found" in " ".join(missing.stderr.split())


def test_skewless_apply_names_every_blank_the_inference_left(repo: tuple[Path, Path]) -> None:
    from services.governance import lint
    from services.repository import load_repository

    repo_dir, samples = repo
    infer_contracts(repo_dir, samples, owner="platform@x")
    repository = load_repository(repo_dir)
    assert sorted(repository.contracts) == ["driver_profile", "ride_request", "trips"]
    problems = lint(repository.definitions, repository.contracts)
    assert not [p for p in problems if "has no contract" in p]
    for blank in ("'trips' field 'photo'", "'trips' field 'shift'", "'driver_profile' field 'age'"):
        assert f"contract {blank}: missing description" in problems


def test_a_source_whose_contract_the_repository_holds_is_kept(repo: tuple[Path, Path]) -> None:
    # Regression: infer wrote <source>_contract.py beside the repository's own contract for
    # the source, and which of the two guarded ingestion depended on the order files load in.
    from services.repository import load_repository

    repo_dir, samples = repo
    infer_contracts(repo_dir, samples, owner="platform@x")
    own = repo_dir / "contracts.py"
    (repo_dir / "trips_contract.py").rename(own)
    inferred = infer_contracts(repo_dir, samples, owner="platform@x")
    assert inferred.kept == {"trips": own.resolve()}
    assert [p.name for p in inferred.written] == [
        "driver_profile_contract.py",
        "ride_request_contract.py",
    ]
    assert not (repo_dir / "trips_contract.py").exists()
    assert load_repository(repo_dir).contracts["trips"].__module__ == "contracts"
    args = ["contracts", "infer", "--repo", str(repo_dir), "--sample", str(samples)]
    shown = CliRunner().invoke(_cli(), [*args, "--owner", "platform@x"])
    assert shown.exit_code == 0, shown.output
    assert f"kept: trips already has its contract in {own.resolve()}" in shown.stdout


def test_two_contracts_for_one_source_are_refused_naming_both(repo: tuple[Path, Path]) -> None:
    from services.repository import load_repository

    repo_dir, samples = repo
    infer_contracts(repo_dir, samples, owner="platform@x")
    twin = (repo_dir / "trips_contract.py").read_text()
    (repo_dir / "more_contracts.py").write_text(twin.replace("class Trips(", "class TripsAgain("))
    with pytest.raises(
        ContractError,
        match=r"source 'trips' has two contracts, more_contracts\.TripsAgain and "
        r"trips_contract\.Trips: keep one",
    ):
        load_repository(repo_dir)
