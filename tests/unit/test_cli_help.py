"""Every option of every ``skewless`` command says what it does in ``--help``."""

from __future__ import annotations

from typing import Any

import typer.main

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
