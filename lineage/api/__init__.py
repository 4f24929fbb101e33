"""The lineage HTTP service (FastAPI): OpenLineage intake, graph queries, tokens, audit log."""

from lineage.api.app import create_app

__all__ = ["create_app"]
