"""Offline store: immutable dataset versions and point-in-time retrieval."""
