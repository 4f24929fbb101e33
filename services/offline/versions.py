"""What a dataset version is and how its facts are read back: the offline store's manifests.

Each ``<data>/offline/<source>/<version>.parquet`` carries its facts (created, rows, hash,
quarantined) in its footer; this module reads them with PyArrow alone, so listing a source's
versions (``skewless datasets``) needs neither pandas, Pandera nor Feast. Writing versions is
:mod:`services.offline.datasets`'s job.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

META_KEY = b"skewless.version"


@dataclass(frozen=True)
class DatasetVersion:
    """One immutable version of a source."""

    source: str
    version: str
    created: str
    rows: int
    content_hash: str
    quarantined: int
    received: int
    schema: str
    path: str

    @property
    def created_at(self) -> datetime:
        return datetime.fromisoformat(self.created)


def source_dir(offline_dir: Path, source: str) -> Path:
    return offline_dir / source


def read_version_meta(path: Path) -> DatasetVersion:
    """The facts of one version, from its parquet footer."""
    import pyarrow.parquet as pq  # only once there is a version to read

    # The file's key-value metadata: a one-piece write puts the facts in the Arrow schema's
    # metadata (copied there), a streamed one adds them when it closes the file.
    raw = pq.read_metadata(path).metadata or {}
    data = json.loads(raw[META_KEY])
    data["path"] = str(path)
    return DatasetVersion(**data)


def list_versions(offline_dir: Path, source: str) -> list[DatasetVersion]:
    """Every committed version of a source, oldest first."""
    folder = source_dir(offline_dir, source)
    if not folder.is_dir():
        return []
    versions = [read_version_meta(p) for p in folder.glob("v*.parquet")]
    return sorted(versions, key=lambda v: (v.created, v.version))
