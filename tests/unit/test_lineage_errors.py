"""Lineage errors survive pickling: they cross from the intake writer process to the server."""

from __future__ import annotations

import pickle

import pytest

from lineage.errors import (
    BodyTooLarge,
    Conflict,
    Forbidden,
    InvalidEvent,
    InvalidQuery,
    LineageError,
    NotFound,
    Unauthenticated,
)

ERRORS: list[LineageError] = [
    InvalidEvent(field="run.runId", reason="not a UUID"),
    InvalidQuery(field="depth", reason="over the cap"),
    NotFound(kind="model_version", key="churn:3"),
    Conflict(kind="deployment", key="churn:3@prod"),
    Unauthenticated("a valid bearer token is required"),
    Forbidden(principal="p", action="write", namespace="finance"),
    BodyTooLarge(limit=1024),
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_error_round_trips_through_pickle(error: LineageError) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert copy.__dict__ == error.__dict__
