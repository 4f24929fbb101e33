"""Every option of every ``skewless`` command says what it does in ``--help``."""

from __future__ import annotations

from typing import Any

import typer.main
from typer.testing import CliRunner

from services.cli import app


# Typer carries its own copy of click, so the walk goes by shape, not by click's classes.
def _options_without_help(command: Any, path: list[str]) -> list[str]:
    if hasattr(command, "commands"):
        return [
            missing
            for name, sub in command.commands.items()
            for missing in _options_without_help(sub, [*path, name])
        ]
    return [
        f"{' '.join(path)} {'/'.join(p.opts)}"
        for p in command.params
        if p.param_type_name == "option" and p.name != "help" and not p.help
    ]


def test_every_option_has_help_text() -> None:
    root: Any = typer.main.get_command(app)
    assert len(root.commands) >= 14  # the walk starts from the real command tree
    assert "--json" in {o for p in root.commands["datasets"].params for o in p.opts}
    assert _options_without_help(root, ["skewless"]) == []


def test_help_paragraphs_wrap_to_the_terminal() -> None:
    # Typer's rich help kept a docstring's source line breaks: at 80 columns a paragraph came
    # out ragged ("... reading the\n entity rows,\n resolving the service ...").
    root: Any = typer.main.get_command(app)
    shown = CliRunner().invoke(app, ["training-set", "--help"], env={"COLUMNS": "80"}).output
    assert "reading the entity rows, resolving the service" in " ".join(shown.split())
    assert all(len(line) <= 80 for line in shown.splitlines())
    lines = [line.strip() for line in shown.splitlines()]
    assert "entity rows," not in lines  # a line holding only a source line's tail
    helps = _helps(root, ["skewless"])
    assert len(helps) >= 35  # every command and group, the lineage ones included
    ragged = [
        f"{path}: {paragraph[:40]}"
        for path, text in helps.items()
        for paragraph in text.split("\n\n")
        if "\n" in paragraph
    ]
    assert ragged == []


def _helps(command: Any, path: list[str]) -> dict[str, str]:
    found = {" ".join(path): command.help or ""}
    for name, sub in getattr(command, "commands", {}).items():
        found.update(_helps(sub, [*path, name]))
    return found
