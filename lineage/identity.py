"""The one naming source: every namespace, dataset, job and node id in Skewless.

Services and the lineage plane build names only through these functions, so an offline source,
its quarantine, its Feast data-source definition, a feature view, its online table, a feature
service, a training set and a model always resolve to the same lineage node whichever process
emits or queries them.
"""

from __future__ import annotations

import re
from typing import NewType

NAMESPACE = "skewless"

DatasetVersionId = NewType("DatasetVersionId", str)
"""A dataset version as the producer names it (its ``datasetVersion`` facet or a content hash)."""

RunId = NewType("RunId", str)
"""An OpenLineage run id (a UUID string)."""

_SAFE = re.compile(r"^[A-Za-z0-9_.\-]+$")


def _checked(kind: str, value: str) -> str:
    # Dots alone ('.', '..') would name a folder's parent where a name becomes a path.
    if not _SAFE.match(value) or not value.strip("."):
        msg = f"invalid {kind} name {value!r}: use letters, digits, '_', '-' and '.'"
        raise ValueError(msg)
    return value


def source_dataset(source: str) -> str:
    """Name the offline dataset written by ingesting ``source``.

    Args:
        source: The Feast source (or contract) name, e.g. ``<source name>``.

    Returns:
        ``offline/<source>``.

    """
    return f"offline/{_checked('source', source)}"


def quarantine_dataset(source: str) -> str:
    """Name the quarantine dataset holding the rows of ``source`` that failed their contract."""
    return f"quarantine/{_checked('source', source)}"


def data_source_dataset(source: str) -> str:
    """Name the definition of a Feast data source: ``data_source/<source>``.

    Versioned by the definition, not by the data: the data are ``offline/<source>``.
    """
    return f"data_source/{_checked('data source', source)}"


def feature_view_dataset(view: str) -> str:
    """Name the dataset of a Feast feature view: ``feature_view/<view>``."""
    return f"feature_view/{_checked('feature view', view)}"


def online_dataset(view: str) -> str:
    """Name the online-store table of a feature view: ``online/<view>``."""
    return f"online/{_checked('feature view', view)}"


def feature_service_dataset(service: str) -> str:
    """Name a Feast feature service as the lineage graph shows it: ``feature_service/<service>``."""
    return f"feature_service/{_checked('feature service', service)}"


def served_dataset(service: str) -> str:
    """Name the log of rows served for a feature service: ``served/<service>``."""
    return f"served/{_checked('feature service', service)}"


def training_set_dataset(name: str) -> str:
    """Name a training set dataset: ``training_set/<name>``."""
    return f"training_set/{_checked('training set', name)}"


def dataset_node(namespace: str, name: str) -> str:
    """The graph's node id of a dataset: ``dataset:<namespace>:<name>``."""
    return f"dataset:{namespace}:{name}"


def job_name(action: str, obj: str) -> str:
    """Name the job that performs ``action`` on ``obj``, e.g. ``ingest.<source>``."""
    return f"{_checked('action', action)}.{_checked('object', obj)}"


TRAINING_SET_PREFIX = "training_set/"
ONLINE_PREFIX = "online/"
FEATURE_VIEW_PREFIX = "feature_view/"
FEATURE_SERVICE_PREFIX = "feature_service/"
