"""Token buckets: a burst is granted, the rest waits exactly as long as the refill takes."""

from __future__ import annotations

import pytest

from lineage import ratelimit
from lineage.ratelimit import TokenBuckets


def test_a_bucket_grants_its_burst_then_says_how_long_to_wait() -> None:
    buckets = TokenBuckets(rate=10, burst_s=2)  # 20 held
    assert [buckets.take("a", 0.0) for _ in range(20)] == [0.0] * 20
    assert buckets.take("a", 0.0) == pytest.approx(0.1)
    assert buckets.take("b", 0.0) == 0.0  # keys are apart
    assert buckets.take("a", 0.1) == 0.0  # refilled one
    assert buckets.take("a", 0.1) > 0.0
    assert [buckets.take("a", 100.0) for _ in range(20)] == [0.0] * 20  # never more than full
    assert buckets.take("a", 100.0) > 0.0


def test_a_slow_rate_still_grants_one(monkeypatch: pytest.MonkeyPatch) -> None:
    buckets = TokenBuckets(rate=0.1, burst_s=2)  # capacity rounds up to one request
    assert buckets.take("a", 0.0) == 0.0
    assert buckets.take("a", 0.0) == pytest.approx(10.0)


def test_many_keys_are_pruned_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ratelimit, "MAX_KEYS", 100)
    buckets = TokenBuckets(rate=1, burst_s=1)
    for i in range(1000):
        buckets.take(f"k{i}", float(i))  # each refilled by the time the next comes
    assert len(buckets._buckets) <= 101
