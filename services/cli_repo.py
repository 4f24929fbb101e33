"""The repository commands: ``skewless init`` and ``skewless contracts infer``.

Thin Typer commands over :mod:`services.scaffold` and :mod:`services.contracts.infer`; known
failures go through ``services.cli_common.errors`` (one line on stderr, exit code 2 for input).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from services.cli_common import console, errors
from services.settings import get_settings

contracts_app = typer.Typer(
    help="Pandera contracts of a repository's sources.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@contracts_app.command("infer")
def infer(
    sample: Annotated[
        Path,
        typer.Option(help="Directory of samples: <source name>.parquet or .csv.", metavar="DIR"),
    ],
    repo: Annotated[
        Path | None,
        typer.Option(help="Feast repository (default: SKEWLESS_REPO_PATH).", metavar="PATH"),
    ] = None,
    owner: Annotated[
        str | None, typer.Option(help="Owner to name where Feast names none.", metavar="TEAM")
    ] = None,
    overwrite: Annotated[
        bool, typer.Option(help="Replace contract modules that differ from the inferred ones.")
    ] = False,
) -> None:
    """Write one <source>_contract.py per source of an existing Feast repository."""
    from services.contracts.infer import infer_contracts

    with errors():
        repo_path = repo if repo is not None else get_settings().repo_path
        inferred = infer_contracts(repo_path, sample, owner=owner, overwrite=overwrite)
    lines = [f"contract: {path}" for path in inferred.written]
    lines += [f"kept: {s} already has its contract in {held}" for s, held in inferred.kept.items()]
    for line in lines:
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def feast_yaml_command(
    out: Annotated[
        Path | None,
        typer.Option(
            help="Write the file here (e.g. <repo>/feature_store.yaml); default: print it.",
            metavar="PATH",
        ),
    ] = None,
) -> None:
    """Feast's feature_store.yaml for the store Skewless uses now (settings and defaults).

    Feast's own SDK and CLI then read the same registry and online store (SQLite or Redis)
    that Skewless writes: `skewless feast-yaml --out feature_repo/feature_store.yaml`.
    """
    import yaml

    from services.store import feast_config

    with errors():
        settings = get_settings()
        text = (
            "# Written by `skewless feast-yaml` from Skewless's settings; run it again after\n"
            "# changing them. Feast's SDK and CLI then read what Skewless writes.\n"
            + yaml.safe_dump(feast_config(settings), sort_keys=False)
        )
        if out is None:
            typer.echo(text, nl=False)
            return
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    console.print(f"wrote {out}", markup=False, highlight=False, soft_wrap=True)


def init_command(
    directory: Annotated[Path, typer.Argument(help="New or empty directory for the repository.")],
    project: str = typer.Option(..., help="Feast project name (letters, digits, underscores)."),
    owner: str = typer.Option(..., help="Owner of every object and field, e.g. a team address."),
) -> None:
    """Start a new governed repository: definitions, contracts, sample data generator."""
    from services.scaffold import init_repository

    with errors():
        written = init_repository(directory, project=project, owner=owner)
    for path in written:
        console.print(f"wrote {path}", markup=False, highlight=False, soft_wrap=True)
