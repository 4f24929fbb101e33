"""Bad input to ``skewless lineage ...`` is one line on stderr and exit 2, never a traceback.

Regressions found by a new user: time options taken as Unix seconds or overflowing, database
settings that crashed the command, token names and grants the tables cannot hold, and a revoke
of a revoked token answered "not found". Each runs on a real database of each backend.
"""

from __future__ import annotations

import json

import pytest
from click.testing import Result
from typer.testing import CliRunner

from lineage.cli import app as cli_app
from lineage.db.session import session_scope

TOKENS = "/api/v1/tokens"


def one_line(result: Result) -> str:
    """The single stderr line of a failed command (the traceback-free contract)."""
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


# --- time options ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["audit", "list", "--since", "9999-12-31T23:59:59-01:00"],
        ["audit", "list", "--until", "0001-01-01T00:00:00+01:00"],
    ],
)
def test_times_past_what_utc_holds_are_clamped_as_over_http(db_url, monkeypatch, args) -> None:
    monkeypatch.setenv("LINEAGE_DATABASE_URL", db_url)
    done = CliRunner().invoke(cli_app, [*args, "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout) == {"entries": []}  # nothing is after the end, or before 1


def test_a_graph_as_of_the_last_instant_reads_everything(
    db_url, maker, golden, monkeypatch
) -> None:
    from lineage import service

    with session_scope(maker) as s:
        service.ingest_event(s, golden("ingest_complete"))
    monkeypatch.setenv("LINEAGE_DATABASE_URL", db_url)
    node = "job:skewless:ingest.customer_transactions"
    done = CliRunner().invoke(
        cli_app, ["graph", node, "--as-of", "9999-12-31T23:59:59-01:00", "--json"]
    )
    assert done.exit_code == 0, done.output
    assert any(n["id"] == node for n in json.loads(done.stdout)["graph"])


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["graph", "job:skewless:x", "--as-of", "2026"], "--as-of '2026'"),
        (["graph", "job:skewless:x", "--as-of", "1700000000.5"], "--as-of '1700000000.5'"),
        (["audit", "list", "--since", "1700000000"], "--since '1700000000'"),
        (["audit", "list", "--until", "2026-13-01T00:00:00Z"], "--until '2026-13-01T00:00:00Z'"),
    ],
)
def test_a_time_that_is_not_iso_8601_is_refused_in_one_line(tmp_path, monkeypatch, args, said):
    monkeypatch.setenv("LINEAGE_DATABASE_URL", f"sqlite:///{tmp_path / 'never-opened.db'}")
    done = CliRunner().invoke(cli_app, args)
    assert done.exit_code == 2, done.output
    assert one_line(done) == f"error: {said}: not an ISO 8601 time (e.g. 2026-12-01T10:00:00Z)"
    assert not (tmp_path / "never-opened.db").exists()  # refused before the database is opened


# --- settings ----------------------------------------------------------------------------------

COMMANDS = [["summary"], ["token", "list"], ["graph", "job:skewless:x"]]
FORMS = "use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c))
@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("notaurl", f"'notaurl' is not a database URL; {FORMS}"),
        ("user:hunter2@host/db", f"'user:***@host/db' is not a database URL; {FORMS}"),
        (
            "postgresql+psycopg://u:hunter2@h:port/db",
            f"'postgresql+psycopg://u:***@h:port/db' is not a database URL; {FORMS}",
        ),
        (
            "mysql://root:hunter2@y/z",
            f"mysql:// is not a database the lineage plane can use; {FORMS}",
        ),
        (
            "postgresql+psycopg2://u@h/d",
            f"postgresql+psycopg2:// is not a database the lineage plane can use; {FORMS}",
        ),
    ],
    ids=["no URL", "no scheme", "port not a number", "mysql", "psycopg2"],
)
def test_a_database_url_the_cli_cannot_open_names_the_variable(command, url, said) -> None:
    done = CliRunner().invoke(cli_app, command, env={"LINEAGE_DATABASE_URL": url})
    assert done.exit_code == 2, done.output
    assert one_line(done) == f"error: invalid settings: LINEAGE_DATABASE_URL: {said}"
    assert "hunter2" not in done.output


def test_a_setting_that_is_no_number_names_the_variable() -> None:
    done = CliRunner().invoke(cli_app, ["summary"], env={"LINEAGE_MAX_DEPTH": "abc"})
    assert done.exit_code == 2, done.output
    assert one_line(done).startswith("error: invalid settings: LINEAGE_MAX_DEPTH: ")


# --- tokens ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--principal", "p" * 201], "principal: longer than 200 characters (201)"),
        (["--principal", " "], "principal: required non-empty string"),
        (["--principal", "p", "--namespace", ""], "namespace: required non-empty string"),
        (["--principal", "p", "--namespace", "n" * 401], "namespace: longer than 400 characters"),
        (
            ["--principal", "p", *[a for i in range(101) for a in ("--namespace", f"n{i}")]],
            "namespaces: at most 100 namespaces",
        ),
    ],
    ids=["long principal", "blank principal", "empty namespace", "long namespace", "101 grants"],
)
def test_a_token_the_tables_cannot_hold_is_refused(db_url, monkeypatch, args, said) -> None:
    monkeypatch.setenv("LINEAGE_DATABASE_URL", db_url)
    runner = CliRunner()
    done = runner.invoke(cli_app, ["token", "create", "--role", "consumer", *args])
    assert done.exit_code == 2, done.output
    assert one_line(done).startswith(f"error: {said}")
    listed = runner.invoke(cli_app, ["token", "list", "--json"])
    assert json.loads(listed.stdout) == []


def test_the_longest_names_the_tables_hold_are_accepted(db_url, monkeypatch) -> None:
    monkeypatch.setenv("LINEAGE_DATABASE_URL", db_url)
    runner = CliRunner()
    args = ["--principal", "p" * 200, "--role", "consumer", "--namespace", "n" * 400]
    done = runner.invoke(cli_app, ["token", "create", *args])
    assert done.exit_code == 0, done.output
    (listed,) = json.loads(runner.invoke(cli_app, ["token", "list", "--json"]).stdout)
    assert (listed["principal"], listed["namespaces"]) == ("p" * 200, ["n" * 400])


@pytest.mark.parametrize(
    "namespaces", [[""], ["n" * 401]], ids=["empty namespace", "401-character namespace"]
)
def test_http_refuses_the_same_grants(client, make_token, namespaces) -> None:
    admin = {"Authorization": f"Bearer {make_token('root', 'admin', '*')}"}
    body = {"principal": "p", "role": "consumer", "namespaces": namespaces}
    refused = client.post(TOKENS, json=body, headers=admin)
    assert refused.status_code == 422, refused.text
    assert refused.json()["field"] == "body.namespaces.0"  # the schema states the limit
    assert [t["principal"] for t in client.get(TOKENS, headers=admin).json()] == ["root"]


def test_revoking_a_revoked_token_says_so_and_changes_nothing(db_url, client, monkeypatch):
    monkeypatch.setenv("LINEAGE_DATABASE_URL", db_url)
    runner = CliRunner()
    created = runner.invoke(cli_app, ["token", "create", "--principal", "eve", "--role", "admin"])
    admin = {"Authorization": f"Bearer {created.stdout.strip()}"}
    (token,) = json.loads(runner.invoke(cli_app, ["token", "list", "--json"]).stdout)
    assert runner.invoke(cli_app, ["token", "revoke", str(token["id"])]).exit_code == 0
    (revoked,) = json.loads(runner.invoke(cli_app, ["token", "list", "--json"]).stdout)

    again = runner.invoke(cli_app, ["token", "revoke", str(token["id"])])
    assert again.exit_code == 0, again.output
    assert again.stdout.strip() == f"token {token['id']} is already revoked"
    (still,) = json.loads(runner.invoke(cli_app, ["token", "list", "--json"]).stdout)
    assert still["revoked_at"] == revoked["revoked_at"]  # the first revocation's time stays

    missing = runner.invoke(cli_app, ["token", "revoke", str(token["id"] + 1)])
    assert missing.exit_code == 2
    assert one_line(missing) == f"error: token not found: {token['id'] + 1}"

    other = {"Authorization": f"Bearer {_admin(runner)}"}
    assert client.get(TOKENS, headers=admin).status_code == 401  # the revoked one
    assert client.delete(f"{TOKENS}/{token['id']}", headers=other).status_code == 204
    assert client.delete(f"{TOKENS}/{token['id'] + 99}", headers=other).status_code == 404


def _admin(runner: CliRunner) -> str:
    created = runner.invoke(cli_app, ["token", "create", "--principal", "root", "--role", "admin"])
    return created.stdout.strip()
