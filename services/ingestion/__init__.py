"""Ingestion gate: read -> validate -> write a dataset version -> update online -> lineage."""
