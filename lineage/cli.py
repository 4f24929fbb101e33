"""``skewless lineage ...``: thin Typer commands over the lineage modules.

Reads ``LINEAGE_DATABASE_URL`` (default: SQLite under ``./data``). Commands that print data
accept ``--json`` for machine-readable output. Every command that reads lineage data or manages
tokens appends an audit entry first (principal ``local:<os user>``, source ``cli``), through the
same hash-chained log the service writes, keyed by ``LINEAGE_AUDIT_KEY``. ``audit verify`` and
``audit anchor`` exit 0 when the chain holds, 1 when it is broken, 2 on bad input, 3 when the
database (or the anchor URL) is unavailable, with one line on stderr.
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from lineage import access, service
from lineage.audit import Checkpoint, append_audit, make_checkpoint, verify_chain
from lineage.cli_failures import fail, fail_if_unusable, first_line, migrate_database, open_engine
from lineage.db.session import make_sessionmaker, session_scope
from lineage.errors import LineageError
from lineage.identity import NAMESPACE
from lineage.settings import LineageSettings

app = typer.Typer(help="Lineage and governance plane.", no_args_is_help=True)
token_app = typer.Typer(help="Manage bearer tokens.", no_args_is_help=True)
audit_app = typer.Typer(help="Inspect the audit log.", no_args_is_help=True)
app.add_typer(token_app, name="token")
app.add_typer(audit_app, name="audit")
console = Console()


def _settings() -> LineageSettings:
    try:
        return LineageSettings()
    except ValidationError as exc:
        reasons = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        fail(2, f"invalid LINEAGE_* settings: {reasons}")


def cli_principal() -> str:
    """The audit log's name for whoever runs the CLI: ``local:<os user>``.

    The CLI reads the database directly, as an unrestricted caller; the audit log still says who.
    """
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER (e.g. some containers)
        user = f"uid{os.getuid()}"
    return f"local:{user}"


@contextmanager
def _session(audit: tuple[str, str] | None = None) -> Iterator[Session]:
    """A session in one transaction; with ``audit=(command, object)``, audited first.

    The audit entry (principal ``local:<os user>``, source ``cli``) is committed in its own
    transaction before the command reads anything, so a command that fails is still recorded,
    and a command whose entry cannot be written does not run (exit 1).
    """
    settings = _settings()
    engine = open_engine(settings.database_url)
    try:
        maker = make_sessionmaker(engine)
        if audit is not None:
            _audit(maker, *audit, key=settings.audit_key_bytes, url=settings.database_url)
        with session_scope(maker) as session:
            yield session
    except access.DB_ERRORS as exc:
        fail_if_unusable(settings.database_url, exc)
        raise
    except LineageError as exc:
        fail(2, str(exc))
    finally:
        engine.dispose()


def _audit(
    maker: sessionmaker[Session], command: str, obj: str, *, key: bytes | None, url: str
) -> None:
    try:
        with session_scope(maker) as session:
            append_audit(
                session,
                principal=cli_principal(),
                action=f"cli lineage {command}",
                obj=obj,
                allowed=True,
                source_address="cli",
                key=key,
            )
    except access.DB_ERRORS as exc:
        fail_if_unusable(url, exc)
        fail(1, f"could not write the audit log, nothing was read: {first_line(exc)}")


def _print(data: Any, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
    else:
        console.print_json(json.dumps(data, default=str))


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 5010,
    workers: int = typer.Option(1, "--workers", min=1, help="Worker processes."),
    access_log: bool = typer.Option(False, "--access-log", help="Log every request to stdout."),
) -> None:
    """Migrate the database, then run the lineage service."""
    import gc

    import uvicorn

    import lineage.api.app  # noqa: F401 (imported before freezing, see below)

    settings = _settings()
    migrate_database(settings.database_url)
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
    migrate_database(_settings().database_url)
    console.print("lineage database at head")


@token_app.command("create")
def token_create(
    principal: str = typer.Option(..., "--principal"),
    role: str = typer.Option(..., "--role"),
    namespace: list[str] = typer.Option([], "--namespace"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Create a token; it is printed once and stored only as a hash."""
    with _session(("token create", f"principal:{principal}")) as session:
        token = access.create_token(session, principal, role, namespace)
    if as_json:
        out = {"principal": principal, "role": role, "namespaces": namespace, "token": token}
        typer.echo(json.dumps(out))
    else:
        typer.echo(token)


# A token id as the database stores it (BIGINT): anything else is a usage error, not a query.
TokenId = typer.Argument(..., min=1, max=2**63 - 1, help="The token's id (`token list`).")


@token_app.command("revoke")
def token_revoke(token_id: int = TokenId) -> None:
    """Revoke a token by id."""
    with _session(("token revoke", f"token:{token_id}")) as session:
        access.revoke_token(session, token_id)
    console.print(f"revoked token {token_id}")


@token_app.command("revoke-grant")
def token_revoke_grant(token_id: int = TokenId, namespace: str = typer.Argument(...)) -> None:
    """Take one namespace out of a token's grants (its role and other grants stay)."""
    with _session(("token revoke-grant", f"token:{token_id} grant:{namespace}")) as session:
        access.revoke_grant(session, token_id, namespace)
    typer.echo(f"revoked grant {namespace!r} of token {token_id}")


@token_app.command("list")
def token_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """List tokens (never the tokens themselves)."""
    with _session(("token list", "tokens")) as session:
        tokens = access.list_tokens(session)
    if as_json:
        _print([t.__dict__ for t in tokens], True)
        return
    table = Table("id", "principal", "role", "namespaces", "created", "revoked")
    for t in tokens:
        revoked = str(t.revoked_at or "")
        table.add_row(
            str(t.id), t.principal, t.role, ",".join(t.namespaces), str(t.created_at), revoked
        )
    console.print(table)


@app.command()
def flush(
    spool: Path | None = typer.Option(
        None,
        "--spool",
        help="Spool file (default: LINEAGE_SPOOL_PATH, else lineage-spool.jsonl in "
        "SKEWLESS_DATA_DIR, as the data plane writes it).",
    ),
) -> None:
    """Replay the emitter spool into the lineage database (or LINEAGE_URL service)."""
    from lineage.emitter import Emitter, resolve_spool_path

    path = resolve_spool_path(spool)
    if not path.exists():
        typer.echo(f"no lineage spool at {path}: nothing to replay")
        return
    emitter = Emitter(
        database_url=_settings().database_url,
        url=os.environ.get("LINEAGE_URL", ""),
        token=os.environ.get("LINEAGE_TOKEN", ""),
        spool_path=path,
    )
    try:
        waiting = emitter.waiting()
        replayed = emitter.flush()
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


@audit_app.command("verify")
def audit_verify(
    anchors: Path | None = typer.Option(
        None, "--anchors", help="Checkpoints written by `audit anchor`: check each of them too."
    ),
) -> None:
    """Verify the audit hash chain from its first entry; exit 1 naming the first broken entry."""
    key = _settings().audit_key_bytes
    checkpoints = _read_checkpoints(anchors, key) if anchors is not None else []
    try:
        with _session() as session:
            broken = verify_chain(session, key=key, checkpoints=checkpoints)
    except access.DB_ERRORS as exc:
        fail(3, f"could not read the audit log: {first_line(exc)}")
    if broken is not None:
        fail(1, str(broken))
    held = f", {len(checkpoints)} checkpoint(s) hold" if anchors is not None else ""
    typer.echo(f"audit chain intact{held}")


@audit_app.command("anchor")
def audit_anchor(
    to: str = typer.Option(
        ..., "--to", help="A file to append the checkpoint to, or an http(s) URL to POST it to."
    ),
) -> None:
    """Verify the chain, then write a signed checkpoint of its head (one JSON line) to --to.

    Keep checkpoints where whoever can write the database cannot: `audit verify --anchors`
    then detects a truncated tail or a rewritten entry at or below any checkpoint.
    """
    key = _settings().audit_key_bytes
    try:
        with _session() as session:
            broken = verify_chain(session, key=key)
            checkpoint = None if broken is not None else make_checkpoint(session, key=key)
    except access.DB_ERRORS as exc:
        fail(3, f"could not read the audit log: {first_line(exc)}")
    if broken is not None or checkpoint is None:
        fail(1, f"{broken}; nothing anchored")
    _write_checkpoint(to, checkpoint)
    typer.echo(f"anchored entry {checkpoint.last_id} ({checkpoint.last_hash[:16]}...) to {to}")


def _write_checkpoint(target: str, checkpoint: Checkpoint) -> None:
    line = checkpoint.to_json()
    if target.startswith(("http://", "https://")):
        headers = {"Content-Type": "application/json"}
        try:
            response = httpx.post(target, content=line, headers=headers, timeout=10.0)
        except httpx.HTTPError as exc:
            fail(3, f"could not POST the checkpoint to {target}: {first_line(exc)}")
        if not response.is_success:
            fail(3, f"{target} answered {response.status_code}; checkpoint not stored")
        return
    try:
        with Path(target).open("a", encoding="utf-8") as out:
            out.write(line + "\n")
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        fail(2, f"could not append the checkpoint to {target}: {exc.strerror or exc}")


def _read_checkpoints(path: Path, key: bytes | None) -> list[Checkpoint]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        fail(2, f"could not read checkpoints from {path}: {exc}")
    checkpoints = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            checkpoint = Checkpoint.from_json(line)
        except ValueError as exc:
            fail(2, f"{path}:{number}: not a checkpoint ({exc})")
        if not checkpoint.holds(key=key):
            fail(
                1, f"{path}:{number}: checkpoint signature does not verify (edited, or another key)"
            )
        checkpoints.append(checkpoint)
    return checkpoints


@app.command()
def summary(as_json: bool = typer.Option(False, "--json")) -> None:
    """Count datasets, versions, jobs, runs by state and models."""
    with _session(("summary", "summary")) as session:
        _print(service.summary(session), as_json)


@app.command()
def provenance(model: str, version: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Show exactly which data, runs and code trained MODEL at VERSION."""
    with _session(("provenance", f"model:{model}:{version}")) as session:
        _print(service.provenance(session, model, version), as_json)


@app.command()
def impact(
    dataset: str,
    version: str,
    namespace: str = typer.Option(NAMESPACE, "--namespace"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Show everything downstream of DATASET at VERSION."""
    with _session(("impact", f"datasetVersion:{namespace}:{dataset}#{version}")) as session:
        _print(service.impact(session, namespace, dataset, version), as_json)


@app.command()
def graph(
    node_id: str,
    depth: int = typer.Option(2, "--depth"),
    as_of: datetime | None = typer.Option(
        None, "--as-of", help="ISO-8601 time; only events at or before it count (naive = UTC)."
    ),
) -> None:
    """Show the lineage graph around NODE_ID (e.g. dataset:skewless:offline/<source>)."""
    with _session(("graph", node_id)) as session:
        _print(service.lineage_graph(session, node_id, depth, None, as_of=as_of), True)


@app.command()
def history(
    node_id: str,
    limit: int = typer.Option(100, "--limit"),
    offset: int = typer.Option(0, "--offset"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Show the history of NODE_ID, newest first: versions, runs or events."""
    with _session(("history", node_id)) as session:
        found = service.history(session, node_id, limit=limit, offset=offset)
    _print(found, as_json)


@app.command()
def usage(
    view: str,
    namespace: str = typer.Option(NAMESPACE, "--namespace"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Show the model versions consuming feature view VIEW, its deployments, and unused fields."""
    with _session(("usage", f"dataset:{namespace}:feature_view/{view}")) as session:
        found = service.usage(session, view, namespace=namespace)
    if as_json:
        _print(found, True)
        return
    table = Table("model", "version", "training set version", "used fields")
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
    view: str,
    namespace: str = typer.Option(NAMESPACE, "--namespace"),
    limit: int = typer.Option(100, "--limit"),
    offset: int = typer.Option(0, "--offset"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Show who read feature view VIEW and when: lineage runs and audited feature reads."""
    with _session(("reads", f"dataset:{namespace}:feature_view/{view}")) as session:
        found = service.reads(session, view, namespace=namespace, limit=limit, offset=offset)
    if as_json:
        _print(found, True)
        return
    table = Table("time", "who", "what", "allowed", "source")
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
