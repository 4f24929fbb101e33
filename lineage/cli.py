"""``skewless lineage ...``: thin Typer commands over the lineage modules.

Reads ``LINEAGE_DATABASE_URL`` (default: SQLite under ``./data``). Commands that print data
accept ``--json`` for machine-readable output. Every command that reads lineage data or manages
tokens appends an audit entry first (principal ``local:<os user>``, source ``cli``), through the
same hash-chained log the service writes, keyed by ``LINEAGE_AUDIT_KEY``. ``audit verify`` and
``audit anchor`` exit 0 when the chain holds, 1 when it is broken, 2 on bad input, 3 when the
database (or the anchor URL) is unavailable, with one line on stderr.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lineage import cli_render
from lineage.cli_audit import audit_app
from lineage.cli_failures import fail, migrate_database
from lineage.cli_render import folded_table
from lineage.cli_session import (
    JsonOption,
    audited_session,
    check_audit_key,
    cli_principal,
    console,
    parse_time,
    print_answer,
    settings_or_exit,
    time_option,
)

__all__ = ["app", "cli_principal"]
from lineage.identity import NAMESPACE
from lineage.lazy import lazy_module
from lineage.roles import ROLES

if TYPE_CHECKING:
    from lineage import service, token_admin
else:  # imported when a command runs, not for --help or a usage error
    service = lazy_module("lineage.service")
    token_admin = lazy_module("lineage.token_admin")

app = typer.Typer(help="Lineage and governance plane.", no_args_is_help=True)
token_app = typer.Typer(help="Manage bearer tokens.", no_args_is_help=True)
app.add_typer(token_app, name="token")
app.add_typer(audit_app, name="audit")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(5010, help="Port to listen on; the console is at / on it."),
    workers: int = typer.Option(1, "--workers", min=1, help="Worker processes."),
    access_log: bool = typer.Option(False, "--access-log", help="Log every request to stdout."),
) -> None:
    """Migrate the database, then run the lineage service."""
    import gc

    import uvicorn

    import lineage.api.app  # noqa: F401 (imported before freezing, see below)

    settings = settings_or_exit()
    migrate_database(settings.database_url)
    check_audit_key(settings)
    # Everything imported so far lives as long as the server: keep it out of the collector's
    # full passes, which otherwise walk it all and showed up as 60-120 ms pauses in the graph
    # query's tail latency.
    gc.collect()
    gc.freeze()
    uvicorn.run(
        "lineage.api:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
    )


@app.command()
def migrate() -> None:
    """Apply every migration (alembic upgrade head)."""
    migrate_database(settings_or_exit().database_url)
    console.print("lineage database at head")


RoleName = Enum("RoleName", {role: role for role in ROLES}, type=str)  # type: ignore[misc]


@token_app.command("create")
def token_create(
    principal: str = typer.Option(..., "--principal", help="Who the token is for."),
    role: RoleName = typer.Option(
        ...,
        "--role",
        help="What it may do: admin, producer (writes its namespaces), consumer (reads its "
        "namespaces), auditor (reads everything and the audit log).",
    ),
    namespace: list[str] = typer.Option(
        [], "--namespace", help="A namespace it is granted (repeat for several; * for all)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Create a token; it is printed once and stored only as a hash."""
    with audited_session(("token create", f"principal:{principal}")) as session:
        token = token_admin.create_token(session, principal, role.value, namespace)
    if as_json:
        out = {"principal": principal, "role": role.value, "namespaces": namespace, "token": token}
        typer.echo(json.dumps(out))
    else:
        typer.echo(token)


# A token id as the database stores it (BIGINT): anything else is a usage error, not a query.
TokenId = typer.Argument(..., min=1, max=2**63 - 1, help="The token's id (`token list`).")


@token_app.command("revoke")
def token_revoke(token_id: int = TokenId) -> None:
    """Revoke a token by id; a token revoked already stays as it is (exit 0, it is revoked)."""
    with audited_session(("token revoke", f"token:{token_id}")) as session:
        revoked_now = token_admin.revoke_token(session, token_id)
    console.print(
        f"revoked token {token_id}" if revoked_now else f"token {token_id} is already revoked"
    )


@token_app.command("revoke-grant")
def token_revoke_grant(token_id: int = TokenId, namespace: str = typer.Argument(...)) -> None:
    """Take one namespace out of a token's grants (its role and other grants stay)."""
    with audited_session(("token revoke-grant", f"token:{token_id} grant:{namespace}")) as session:
        token_admin.revoke_grant(session, token_id, namespace)
    typer.echo(f"revoked grant {namespace!r} of token {token_id}")


@token_app.command("list")
def token_list(as_json: bool = JsonOption) -> None:
    """List tokens (never the tokens themselves)."""
    with audited_session(("token list", "tokens")) as session:
        tokens = token_admin.list_tokens(session)
    if as_json:
        print_answer([t.__dict__ for t in tokens], True)
        return
    table = folded_table("id", "principal", "role", "namespaces", "created", "revoked")
    for t in tokens:
        revoked = str(t.revoked_at or "")
        table.add_row(
            str(t.id), t.principal, t.role, ",".join(t.namespaces), str(t.created_at), revoked
        )
    console.print(table)


@contextmanager
def _replay_progress(total: int) -> Iterator[Callable[[str], None] | None]:
    """A bar on stderr of the spooled records replayed, or no callback when it is not a terminal.

    The data plane's ``services.cli_progress`` draws the same kind of bar; lineage may not
    import the data plane, and this one bar needs little more than Rich itself.
    """
    from rich.console import Console

    stderr = Console(stderr=True)
    if not stderr.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("replaying the lineage spool"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=stderr) as bar:
        task = bar.add_task("replay", total=total)
        yield lambda kind: bar.advance(task)


@app.command()
def flush(
    spool: Path | None = typer.Option(
        None,
        "--spool",
        help="Spool file (default: LINEAGE_SPOOL_PATH, else lineage-spool.jsonl in "
        "SKEWLESS_DATA_DIR, as the data plane writes it).",
    ),
) -> None:
    """Replay the emitter spool into the lineage database (or LINEAGE_URL service).

    On a terminal, stderr shows the records replayed so far.
    """
    from lineage.emitter import Emitter, resolve_spool_path

    path = resolve_spool_path(spool)
    if not path.exists():
        typer.echo(f"no lineage spool at {path}: nothing to replay")
        return
    emitter = Emitter(
        database_url=settings_or_exit().database_url,
        url=os.environ.get("LINEAGE_URL", ""),
        token=os.environ.get("LINEAGE_TOKEN", ""),
        spool_path=path,
    )
    try:
        waiting = emitter.waiting()
        with _replay_progress(waiting) as tick:
            replayed = emitter.flush(progress=tick)
        left = emitter.waiting()
    finally:
        emitter.close()
    typer.echo(f"lineage spool: {path}")  # a path on a line of its own, never cut
    typer.echo(f"{waiting} record(s) waiting, {replayed} replayed, {left} still waiting")
    if left:
        where = os.environ.get("LINEAGE_URL") or "the lineage database"
        fail(
            3, f"{left} record(s) could not be delivered to {where}; run flush again once it is up"
        )


@app.command()
def summary(as_json: bool = JsonOption) -> None:
    """Count datasets, versions, jobs, runs by state and models."""
    with audited_session(("summary", "summary")) as session:
        print_answer(service.summary(session), as_json, cli_render.summary)


@app.command()
def provenance(
    model: str = typer.Argument(..., help="Model name."),
    version: str = typer.Argument(..., help="Model version."),
    as_json: bool = JsonOption,
) -> None:
    """Show exactly which data, runs and code trained MODEL at VERSION."""
    with audited_session(("provenance", f"model:{model}:{version}")) as session:
        print_answer(service.provenance(session, model, version), as_json, cli_render.provenance)


@app.command()
def impact(
    dataset: str = typer.Argument(..., help="Dataset name, e.g. offline/<source>."),
    version: str = typer.Argument(..., help="Dataset version."),
    namespace: str = typer.Option(NAMESPACE, "--namespace", help="The dataset's namespace."),
    as_json: bool = JsonOption,
) -> None:
    """Show everything downstream of DATASET at VERSION."""
    with audited_session(("impact", f"datasetVersion:{namespace}:{dataset}#{version}")) as session:
        print_answer(
            service.impact(session, namespace, dataset, version), as_json, cli_render.impact
        )


@app.command()
def graph(
    node_id: str = typer.Argument(..., help="Start node, e.g. dataset:skewless:offline/<source>."),
    depth: int = typer.Option(2, "--depth", help="Hops from the start node."),
    as_of: str | None = time_option("--as-of", "Only events at or before this time count"),
    as_json: bool = JsonOption,
) -> None:
    """Show the lineage graph around NODE_ID (e.g. dataset:skewless:offline/<source>)."""
    when = parse_time("--as-of", as_of)
    with audited_session(("graph", node_id)) as session:
        found = service.lineage_graph(session, node_id, depth, None, as_of=when)
    print_answer(found, as_json, cli_render.graph)


@app.command()
def history(
    node_id: str = typer.Argument(..., help="Node id, e.g. dataset:skewless:offline/<source>."),
    limit: int = typer.Option(100, "--limit", help="Entries per page."),
    offset: int = typer.Option(0, "--offset", help="Entries to skip."),
    as_json: bool = JsonOption,
) -> None:
    """Show the history of NODE_ID, newest first: versions, runs or events."""
    with audited_session(("history", node_id)) as session:
        found = service.history(session, node_id, limit=limit, offset=offset)
    print_answer(found, as_json, cli_render.history)


@app.command()
def usage(
    view: str = typer.Argument(..., help="Feature view name."),
    namespace: str = typer.Option(NAMESPACE, "--namespace", help="The view's namespace."),
    as_json: bool = JsonOption,
) -> None:
    """Show the model versions consuming feature view VIEW, its deployments, and unused fields."""
    with audited_session(("usage", f"dataset:{namespace}:feature_view/{view}")) as session:
        found = service.usage(session, view, namespace=namespace)
    if as_json:
        print_answer(found, True)
        return
    table = folded_table("model", "version", "training set version", "used fields")
    for mv in found["modelVersions"]:
        table.add_row(
            mv["name"], mv["version"], mv["trainingSetVersion"], ",".join(mv["usedFields"])
        )
    console.print(table)
    for dep in found["deployments"]:
        if "environment" in dep:  # a redacted placeholder has none
            console.print(
                f"served online: {dep['model']} v{dep['version']} in {dep['environment']}"
                f" through {dep['featureService']}"
            )
    console.print(f"fields no model uses: {', '.join(found['unusedFields']) or '(none)'}")


@app.command()
def reads(
    view: str = typer.Argument(..., help="Feature view name."),
    namespace: str = typer.Option(NAMESPACE, "--namespace", help="The view's namespace."),
    limit: int = typer.Option(100, "--limit", help="Entries per page."),
    offset: int = typer.Option(0, "--offset", help="Entries to skip."),
    as_json: bool = JsonOption,
) -> None:
    """Show who read feature view VIEW and when: lineage runs and audited feature reads."""
    with audited_session(("reads", f"dataset:{namespace}:feature_view/{view}")) as session:
        found = service.reads(session, view, namespace=namespace, limit=limit, offset=offset)
    if as_json:
        print_answer(found, True)
        return
    table = folded_table("time", "who", "what", "allowed", "source")
    for run in found["runs"]:
        when = run["startedAt"] or run["endedAt"] or ""
        table.add_row(when, run["job"]["name"], f"run {run['runId']}", "yes", "lineage")
    for entry in found["accesses"]:
        table.add_row(
            str(entry["ts"]),
            entry["principal"],
            entry["action"],
            "yes" if entry["allowed"] else "no",
            entry["source_address"],
        )
    console.print(table)


def console_command(
    lineage_url: Annotated[
        str,
        typer.Option(
            envvar=["LINEAGE_URL", "SKEWLESS_LINEAGE_URL"],
            help="The lineage service the console reads from (your token signs you in there).",
        ),
    ] = "http://127.0.0.1:5010",
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 5020,
) -> None:
    """Serve the web console alone, in front of a lineage service (`lineage serve` has it at /)."""
    import uvicorn

    from lineage.console_server import create_console_app

    if not lineage_url.startswith(("http://", "https://")):
        typer.echo(f"error: --lineage-url {lineage_url!r}: not an http(s) URL", err=True)
        raise typer.Exit(2)
    typer.echo(f"console on http://{host}:{port}/ reading {lineage_url}")
    uvicorn.run(create_console_app(lineage_url), host=host, port=port, log_level="warning")
