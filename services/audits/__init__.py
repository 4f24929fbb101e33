"""Audits: parity (online vs offline), drift and freshness."""
