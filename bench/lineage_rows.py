"""The lineage section's rows of the report, from ``bench_lineage``'s measurements."""

from __future__ import annotations

from typing import Any

from bench.measure import median
from bench.report import Row

CEILING = (
    "limit: the same client against bench.intake_ceiling (same server stack; one token lookup, "
    "one INSERT, one commit per event: the floor under any 201-after-commit)"
)


def lineage_rows(out: dict[str, Any]) -> list[Row]:
    """Intake (sequential, concurrent, wrk), graph and impact rows."""
    sequential_limit = median(out["intake_sync_ceiling"])
    raw_insert = median(out["raw_insert"])
    return [
        Row(
            "lineage intake, sequential HTTP POST",
            "events/s",
            median(out["intake"]),
            None,
            sequential_limit,
            "higher",
            note=f"feast has no lineage; {CEILING}",
            extra={"raw_insert": raw_insert},
        ),
        Row(
            "lineage intake, sequential, openlineage-python HttpTransport (sync)",
            "events/s",
            median(out["intake_sync_client"]),
            None,
            sequential_limit,
            "higher",
            note=(
                "one request at a time, as Airflow and dbt send them; the client itself "
                f"spends {median(out['sync_client_cpu_ms_per_event']):.1f} ms CPU per event; "
                + CEILING
            ),
            extra={"raw_insert": raw_insert},
        ),
        Row(
            f"lineage intake, openlineage-python AsyncHttpTransport, {out['in_flight']} in flight",
            "events/s",
            median(out["intake_concurrent"]),
            None,
            median(out["raw_insert_concurrent"]),
            "higher",
            note=(
                "1 server worker; every event acknowledged 201 after commit; the client "
                f"itself spends {median(out['client_cpu_ms_per_event']):.1f} ms CPU per event; "
                f"limit: raw INSERTs on {out['in_flight']} connections"
            ),
        ),
        Row(
            "lineage intake, wrk -t2 -c32, distinct RunEvents",
            "events/s",
            median(out["intake_wrk"]),
            None,
            median(out["raw_insert_concurrent"]),
            "higher",
            note="1 server worker; 201 after commit; acknowledged events counted in the DB; "
            f"limit: raw INSERTs on {out['in_flight']} connections",
        ),
        Row(
            f"lineage GET depth=10 on {out['graph_nodes']:,} nodes, p95",
            "ms",
            median(out["query_p95_ms"]),
            None,
            None,
            "lower",
            note=(
                f"no counterpart in Feast; answers: median {out['query_nodes_median']} "
                f"nodes, {out['query_truncated_share']:.0%} cut at the 500-node budget"
            ),
        ),
        Row(
            f"lineage impact of a dataset version on {out['graph_nodes']:,} nodes, p95",
            "ms",
            median(out["impact_p95_ms"]),
            None,
            None,
            "lower",
            note=(
                "GET /api/v1/impact; answers: median "
                f"{out['impact_versions_median']} downstream dataset versions"
            ),
        ),
    ]
