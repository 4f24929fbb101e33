"""``OnlineResult.to_dict`` and ``to_df``: Feast's ``OnlineResponse`` shapes for serving code."""

from __future__ import annotations

from datetime import UTC, datetime

from services.online.answer import FeatureColumn, OnlineResult

AT = datetime(2026, 12, 6, 12, 0, 0, 250000, tzinfo=UTC)


def _result() -> OnlineResult:
    return OnlineResult(
        service="svc",
        at=AT,
        columns=[
            FeatureColumn("user_id", ["u1", "u2"], ["PRESENT", "PRESENT"], [None, None]),
            FeatureColumn("clicks", [3, None], ["PRESENT", "NOT_FOUND"], [AT, None]),
        ],
    )


def test_to_dict_gives_values_by_name_in_the_service_s_order() -> None:
    out = _result().to_dict()
    assert out == {"user_id": ["u1", "u2"], "clicks": [3, None]}
    assert list(out) == ["user_id", "clicks"]


def test_event_timestamps_follow_each_column_to_the_microsecond() -> None:
    out = _result().to_dict(include_event_timestamps=True)
    assert list(out) == ["user_id", "user_id__ts", "clicks", "clicks__ts"]
    assert out["clicks__ts"] == [AT, None]
    frame = _result().to_df(include_event_timestamps=True)
    assert frame.shape == (2, 4)
    assert frame["clicks__ts"].iloc[0] == AT
    assert frame["user_id"].tolist() == ["u1", "u2"]
