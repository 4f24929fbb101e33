"""``skewless lineage audit ...``: list the audit log, verify its chain, anchor its head.

``verify`` and ``anchor`` exit 0 when the chain holds, 1 when it is broken, 2 on bad input, 3
when the database (or the anchor URL) is unavailable, with one line on stderr.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from lineage import cli_render
from lineage.cli_failures import fail, first_line
from lineage.cli_session import (
    JsonOption,
    audited_session,
    parse_time,
    print_answer,
    settings_or_exit,
    time_option,
)
from lineage.lazy import lazy_module

if TYPE_CHECKING:
    from lineage import access, audit
    from lineage import audit_verify as chain
    from lineage.audit_verify import Checkpoint
else:  # imported when a command runs, not for --help or a usage error
    access = lazy_module("lineage.access")
    audit = lazy_module("lineage.audit")
    chain = lazy_module("lineage.audit_verify")


audit_app = typer.Typer(help="Inspect the audit log.", no_args_is_help=True)


@audit_app.command("list")
def audit_list(
    principal: str | None = typer.Option(None, "--principal", help="Only this principal."),
    obj: str | None = typer.Option(None, "--object", help="Only entries about this object."),
    since: str | None = time_option("--since", "Only entries at or after this time"),
    until: str | None = time_option("--until", "Only entries before this time"),
    limit: int = typer.Option(100, "--limit", min=1, help="Entries per page."),
    offset: int = typer.Option(0, "--offset", min=0, help="Entries to skip."),
    as_json: bool = JsonOption,
) -> None:
    """List audit entries, newest first, with the filters of GET /api/v1/audit."""
    window = {"since": parse_time("--since", since), "until": parse_time("--until", until)}
    with audited_session(("audit list", principal or obj or "*")) as session:
        entries = audit.list_audit(
            session,
            principal=principal,
            obj=obj,
            **window,
            limit=limit,
            offset=offset,
        )
    answer = {"entries": [asdict(e) for e in entries]}
    print_answer(answer, as_json, cli_render.audit_entries)


@audit_app.command("verify")
def audit_verify(
    anchors: Path | None = typer.Option(
        None, "--anchors", help="Checkpoints written by `audit anchor`: check each of them too."
    ),
) -> None:
    """Verify the audit hash chain from its first entry; exit 1 naming the first broken entry."""
    key = settings_or_exit().audit_key_bytes
    checkpoints = _read_checkpoints(anchors, key) if anchors is not None else []
    try:
        with audited_session() as session:
            broken = chain.verify_chain(session, key=key, checkpoints=checkpoints)
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
    key = settings_or_exit().audit_key_bytes
    try:
        with audited_session() as session:
            broken = chain.verify_chain(session, key=key)
            checkpoint = None if broken is not None else chain.make_checkpoint(session, key=key)
    except access.DB_ERRORS as exc:
        fail(3, f"could not read the audit log: {first_line(exc)}")
    if broken is not None or checkpoint is None:
        fail(1, f"{broken}; nothing anchored")
    _write_checkpoint(to, checkpoint)
    typer.echo(f"anchored entry {checkpoint.last_id} ({checkpoint.last_hash[:16]}...) to {to}")


def _write_checkpoint(target: str, checkpoint: Checkpoint) -> None:
    line = checkpoint.to_json()
    if target.startswith(("http://", "https://")):
        import httpx

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
            checkpoint = chain.Checkpoint.from_json(line)
        except ValueError as exc:
            fail(2, f"{path}:{number}: not a checkpoint ({exc})")
        if not checkpoint.holds(key=key):
            fail(
                1, f"{path}:{number}: checkpoint signature does not verify (edited, or another key)"
            )
        checkpoints.append(checkpoint)
    return checkpoints
