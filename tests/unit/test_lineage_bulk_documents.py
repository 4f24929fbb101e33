"""The JSON documents the lineage writer sends PostgreSQL: exact values, one fast path."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from lineage.db import bulk
from lineage.db.bulk import RawJSON, _document

WHEN = datetime(2026, 11, 20, 10, 0, 0, 123456, tzinfo=UTC)


def test_rows_are_written_by_orjson_with_raw_json_spliced_in(monkeypatch) -> None:
    def refuse(*_: object) -> str:
        raise AssertionError("the slow path was taken for rows orjson can write")

    monkeypatch.setattr(bulk, "_document_json", refuse)
    rows = [
        {"id": 1, "payload": RawJSON('{"b":[1,2],"a":"é"}'), "at": WHEN, "ok": True},
        {"id": 2, "payload": RawJSON("{}"), "at": WHEN, "ok": None},
    ]
    assert json.loads(_document(rows)) == [
        {"id": 1, "payload": {"b": [1, 2], "a": "é"}, "at": WHEN.isoformat(), "ok": True},
        {"id": 2, "payload": {}, "at": WHEN.isoformat(), "ok": None},
    ]


def test_integers_beyond_64_bits_fall_back_to_exact_json() -> None:
    rows = [{"facets": {"n": 2**70}, "at": WHEN, "payload": RawJSON('{"n":1}')}]
    assert json.loads(_document(rows)) == [
        {"facets": {"n": 2**70}, "at": WHEN.isoformat(), "payload": {"n": 1}}
    ]


def test_an_unwritable_value_is_refused_not_dropped() -> None:
    with pytest.raises(TypeError):
        _document([{"value": object()}])
