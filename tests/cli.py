"""The ``skewless`` CLI run in-process, as the end-to-end tests drive it."""

from __future__ import annotations

from click.testing import Result
from typer.testing import CliRunner

from services.cli import app

runner = CliRunner()


def cli_result(*args: str, code: int = 0) -> Result:
    """Run ``skewless ARGS``; assert it exits with ``code``."""
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, (args, result.output, result.exception)
    return result


def cli(*args: str, code: int = 0) -> str:
    """Run ``skewless ARGS``; assert it exits with ``code``; its output (stdout and stderr)."""
    return str(cli_result(*args, code=code).output)
