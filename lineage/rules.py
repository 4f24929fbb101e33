"""What the graph's facts mean, shared by intake and queries.

An event's identity is the hash of its canonical JSON. A dataset mention's version is the one
its ``version`` facet names, else a hash of its schema, else (neither given) inferred; a stronger
source replaces a weaker one. A run's state is order-tolerant: a terminal state is never undone,
and among terminal states the latest event wins. A job's code version is what its source-code
facets say.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from lineage.events import DatasetRecord

# A stronger source of a run's dataset version replaces a weaker one; never the reverse.
VERSION_PRECEDENCE = {"inferred": 0, "schema": 1, "facet": 2}

# Where a job's (or a run's job's) code version is recorded: (facet, key) per reported field.
CODE_FACETS = {
    "codeVersion": ("sourceCodeLocation", "version"),
    "codeLocation": ("sourceCodeLocation", "url"),
    "codeLanguage": ("sourceCode", "language"),
}


def canonical_json(value: Any) -> str:
    """Serialize JSON deterministically (sorted keys, no spaces) for hashing."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def schema_hash(record: DatasetRecord) -> str:
    """Hash of a dataset's identity and schema fields: its version when no facet names one."""
    fields = record.facets.get("schema", {}).get("fields", [])
    text = canonical_json([record.namespace, record.name, fields])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def explicit_version(record: DatasetRecord) -> tuple[str, str] | None:
    """The (version, source) a mention names by facet or schema; None when it names neither."""
    if "version" in record.facets:
        return str(record.facets["version"]["datasetVersion"]), "facet"
    if "schema" in record.facets:
        return schema_hash(record), "schema"
    return None


STATE_RANK = {"OTHER": 0, "START": 1, "RUNNING": 2, "COMPLETE": 3, "FAIL": 3, "ABORT": 3}


def run_state_wins(event_type: str, when: datetime, old_type: str, old_when: datetime) -> bool:
    """Order-tolerant run state: a terminal state is never undone; among terminals the latest wins.

    Args:
        event_type: The new event's type.
        when: The new event's time.
        old_type: The state so far.
        old_when: The time of the state so far.

    Returns:
        Whether the new event sets the run's state.

    """
    new_rank, old_rank = STATE_RANK[event_type], STATE_RANK[old_type]
    return new_rank > old_rank or (new_rank == 3 and old_rank == 3 and when > old_when)
