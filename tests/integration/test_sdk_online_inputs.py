"""The SDK's online reads take what Feast takes, and refuse the rest in one line naming the column.

A new-user probe of ``services.sdk.Client.online_features`` found: a service reading one view
twice answered one ``country`` holding the second projection's values (``to_dict`` kept the
last); a bare string among the entities was read character by character; a number where a
list belongs was a ``TypeError``; numpy scalars were refused ("expected Int64, got
np.int64(1)"); request data sent among the entities, as Feast sends it, was "missing". A copy
of the demo repository, applied and loaded on the SQLite online store, gets a service reading
``customer_profile`` twice, the second time for another customer (``with_join_key_map``), and
one whose on-demand view reads request data alone (no join key: its rows were always one).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from services import sdk
from services.errors import EntityKeyError, RequestDataError, RequestError
from services.ingestion.gate import ingest_file
from services.sdk import Client
from services.settings import Settings
from services.store import Store, load_definitions
from tests.demo_repo import write_demo_data
from tests.integration.serving.conftest import ServerThread

ROOT = Path(__file__).resolve().parents[2]
EXTRA = """
import pandas as pd
from feast import FeatureService, Field
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Float64

from definitions import RISK_TEAM, customer_profile, transaction_request

country_twice = FeatureService(
    name="country_twice",
    features=[
        customer_profile[["country"]],
        customer_profile.with_name("referrer")
        .with_join_key_map({"customer_id": "referrer_id"})[["country"]],
    ],
    owner=RISK_TEAM,
    description="A customer's country beside their referrer's.",
)

country_only = FeatureService(
    name="country_only",
    features=[customer_profile[["country"]]],
    owner=RISK_TEAM,
    description="A customer's country.",
)


@on_demand_feature_view(
    sources=[transaction_request],
    schema=[Field(name="amount_cents", dtype=Float64)],
    mode="pandas",
    owner=RISK_TEAM,
    description="The request's amount in cents.",
)
def amount_cents(inputs: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"amount_cents": inputs["transaction_amount"] * 100})


cents = FeatureService(
    name="cents",
    features=[amount_cents],
    owner=RISK_TEAM,
    description="Request data alone: no join key.",
)
"""
CLASH = "feature names ['country'] appear in several views; ask for full feature names"
SERVICE = "fraud_detection_v2"
ODFV = "amount_minus_avg_30d"


@pytest.fixture
def client(make_settings: Callable[..., Settings], tmp_path: Path) -> Iterator[Client]:
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "feature_repo", repo, ignore=shutil.ignore_patterns("__pycache__"))
    (repo / "extra.py").write_text(EXTRA)
    settings = make_settings("sqlite", repo_path=repo)
    store = Store(settings)
    try:
        store.apply(load_definitions(repo))
        files = write_demo_data(tmp_path / "raw", customers=20, days=8, seed=5)
        for name, path in files.paths.items():
            assert ingest_file(store, name, path).accepted
    finally:
        store.close()
    with Client(settings) as client:
        yield client


def _refused(call: Callable[[], Any], error: type[RequestError] = RequestError) -> str:
    with pytest.raises(error) as caught:
        call()
    return str(caught.value)


def _v2(client: Client, entities: dict[str, Any], request: Any = None) -> dict[str, list[Any]]:
    return client.online_features(SERVICE, entities, request).to_dict()


def test_a_name_two_views_answer_is_refused_unless_full_names_are_asked(client: Client) -> None:
    entities = {"customer_id": [1, 2], "referrer_id": [3, 4]}
    assert _refused(lambda: client.online_features("country_twice", entities)) == CLASH
    assert _refused(lambda: sdk.online_features("country_twice", entities)) == CLASH

    full = client.online_features("country_twice", entities, full_feature_names=True)
    own = client.online_features("country_only", {"customer_id": [1, 2]}).to_dict()["country"]
    theirs = client.online_features("country_only", {"customer_id": [3, 4]}).to_dict()["country"]
    assert own != theirs  # the two projections read different customers
    assert full.to_dict() == {
        "customer_id": [1, 2],
        "referrer_id": [3, 4],
        "customer_profile__country": own,
        "referrer__country": theirs,
    }
    frame = full.to_df(include_event_timestamps=True)
    assert frame.shape == (2, 8)  # no column hides another by name
    module = sdk.online_features("country_twice", entities, full_feature_names=True)
    assert module.to_dict() == full.to_dict()


def test_full_feature_names_name_every_feature_by_its_view(client: Client) -> None:
    entities = {"customer_id": [1], "merchant_id": [1]}
    short = client.online_features(SERVICE, entities, {"transaction_amount": [3.0]})
    full = client.online_features(
        SERVICE, entities, {"transaction_amount": [3.0]}, full_feature_names=True
    )
    names = list(full.to_dict())
    assert names[:2] == ["customer_id", "merchant_id"]
    assert names[2:] == client.plan(SERVICE).output_names(full=True)
    assert f"transaction_risk__{ODFV}" in names
    assert list(full.to_dict().values()) == list(short.to_dict().values())


ONE = {"transaction_amount": [1.0]}


@pytest.mark.parametrize(
    ("entities", "request_data", "message"),
    [
        (
            {"customer_id": 1, "merchant_id": [1]},
            ONE,
            "entity key 'customer_id': expected a list of values, got int",
        ),
        (
            {"customer_id": [1, 2, 3], "merchant_id": [1, 2, 3], "device": "ios"},
            {"transaction_amount": [1.0, 2.0, 3.0]},
            "entity key 'device': expected a list of values, got str",
        ),
        (
            {"customer_id": (c for c in [1]), "merchant_id": [1]},
            ONE,
            "entity key 'customer_id': expected a list of values, got generator",
        ),
        (
            {"customer_id": [1], "merchant_id": np.array(1)},
            ONE,
            "entity key 'merchant_id': expected a list of values, got a 0-d numpy array",
        ),
        (
            {"customer_id": [1], "merchant_id": [1]},
            {"transaction_amount": 3.0},
            "request data 'transaction_amount': expected a list of values, got float",
        ),
        (
            {"customer_id": [1], "merchant_id": [1], "transaction_amount": "3"},
            None,
            "request data 'transaction_amount': expected a list of values, got str",
        ),
    ],
)
def test_a_value_where_a_list_belongs_is_one_line_naming_the_column(
    client: Client, entities: dict[str, Any], request_data: Any, message: str
) -> None:
    assert _refused(lambda: _v2(client, entities, request_data)) == message


def test_tuples_arrays_and_series_are_lists_of_values(client: Client) -> None:
    want = _v2(
        client, {"customer_id": [1, 2], "merchant_id": [3, 4]}, {"transaction_amount": [2.5, 7]}
    )
    for kind in (tuple, np.array, pd.Series):
        got = _v2(
            client,
            {"customer_id": kind([1, 2]), "merchant_id": kind([3, 4])},
            {"transaction_amount": kind([2.5, 7])},
        )
        assert got == want, kind
        assert all(type(v) is int for v in got["customer_id"]), kind


def test_numpy_scalars_count_as_the_python_values_they_hold(client: Client) -> None:
    want = _v2(client, {"customer_id": [1], "merchant_id": [2]}, {"transaction_amount": [3.0]})
    got = _v2(
        client,
        {"customer_id": [np.int64(1)], "merchant_id": [np.int32(2)]},
        {"transaction_amount": [np.float32(3.0)]},
    )
    assert got == want
    assert _v2(client, {"customer_id": [1], "merchant_id": [2]}, {"transaction_amount": [3]}) == (
        _v2(client, {"customer_id": [1], "merchant_id": [2]}, {"transaction_amount": [np.int8(3)]})
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (np.bool_(True), "entity key 'customer_id': row 0: expected Int64, got True"),
        (True, "entity key 'customer_id': row 0: expected Int64, got True"),
        (np.float64(1.0), "entity key 'customer_id': row 0: expected Int64, got 1.0"),
        (1.0, "entity key 'customer_id': row 0: expected Int64, got 1.0"),
        (np.uint64(2**63), "entity key 'customer_id': row 0: 9223372036854775808 is outside Int64"),
        (2**63, "entity key 'customer_id': row 0: 9223372036854775808 is outside Int64"),
        (np.str_("1"), "entity key 'customer_id': row 0: expected Int64, got '1'"),
    ],
)
def test_a_numpy_key_is_refused_as_its_python_value_is(
    client: Client, value: Any, message: str
) -> None:
    entities = {"customer_id": [value], "merchant_id": [1]}
    call = lambda: _v2(client, entities, {"transaction_amount": [1.0]})  # noqa: E731
    assert _refused(call, EntityKeyError) == message


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (np.float64(2e6), "row 0: 2000000.0 outside the contract range [0, 1000000.0]"),
        (np.float64("nan"), "row 0: expected Float64, got nan"),
        (np.bool_(False), "row 0: expected Float64, got False"),
    ],
)
def test_numpy_request_data_is_checked_as_its_python_value_is(
    client: Client, value: Any, message: str
) -> None:
    entities = {"customer_id": [1], "merchant_id": [1]}
    call = lambda: _v2(client, entities, {"transaction_amount": [value]})  # noqa: E731
    assert _refused(call, RequestDataError) == f"request data 'transaction_amount': {message}"


def test_request_data_among_the_entities_is_taken_as_feast_takes_it(client: Client) -> None:
    keys = {"customer_id": [1, 2], "merchant_id": [1, 3]}
    apart = client.online_features(SERVICE, keys, {"transaction_amount": [3.0, 40.0]})
    among = client.online_features(SERVICE, {**keys, "transaction_amount": [3.0, 40.0]})
    assert among.to_dict() == apart.to_dict()
    assert among.to_dict()[ODFV] != [None, None]
    both = lambda: client.online_features(  # noqa: E731
        SERVICE, {**keys, "transaction_amount": [3.0, 40.0]}, {"transaction_amount": [3.0, 4.0]}
    )
    assert _refused(both, RequestDataError) == (
        "request data 'transaction_amount': given in both entities and request_data"
    )


def test_request_data_alone_answers_a_row_per_value(client: Client) -> None:
    """No join key: the rows are the request data's (they were 1, "2 values for 1 entity rows")."""
    apart = client.online_features("cents", {}, {"transaction_amount": [1.0, 2.5]})
    among = client.online_features("cents", {"transaction_amount": [1.0, 2.5]})
    assert apart.to_dict() == among.to_dict() == {"amount_cents": [100.0, 250.0]}
    body = {
        "feature_service": "cents",
        "entities": {},
        "request_data": {"transaction_amount": [1.0, 2.5]},
    }
    with ServerThread(client.settings) as srv, httpx.Client(base_url=srv.url, timeout=30) as http:
        served = http.post("/get-online-features", json=body)
    assert served.status_code == 200, served.text
    assert served.json()["results"][0]["values"] == [100.0, 250.0]
