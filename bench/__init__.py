"""Skewless benchmarks: Skewless vs Feast vs the raw limit, on the same data in one run."""
