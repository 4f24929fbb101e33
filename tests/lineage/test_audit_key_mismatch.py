"""A process whose key does not verify the chain's last entry appends nothing to it.

An entry appended under another key (or none: a CLI run without ``LINEAGE_AUDIT_KEY``) broke
the chain at that entry for good: ``audit verify`` then failed forever, indistinguishable from
an edit. The feature server's read auditor keeps such entries buffered (its write-ahead log
keeps them too) until a process with the right key writes them.
"""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from lineage.access import ReadAuditor
from lineage.audit import key_mismatch
from lineage.audit_verify import verify_chain
from lineage.cli import app as cli_app
from lineage.db.session import session_scope

KEY = b"0123456789abcdef0123456789abcdef-key"


def test_a_read_auditor_with_another_key_appends_nothing(
    maker: sessionmaker[Session], db_url: str
) -> None:
    keyed = ReadAuditor(db_url, key=KEY)
    keyed.record("p", "read", "feature_view/risk", True, "127.0.0.1")
    assert keyed.flush() == 1
    keyed.close()
    for key in (None, b"another-key-another-key-another-key"):
        other = ReadAuditor(db_url, key=key)
        other.record("q", "read", "feature_view/risk", True, "127.0.0.1")
        assert other.flush() == 0
        assert other.pending == 1  # kept, not dropped
        other.close()  # tries once more, and still appends nothing
        with session_scope(maker) as session:
            said = key_mismatch(session, key=key)
        assert said is not None
        assert "does not verify under this process's LINEAGE_AUDIT_KEY" in said
    with session_scope(maker) as session:
        assert verify_chain(session, key=KEY) is None
        assert key_mismatch(session, key=KEY) is None


def test_a_cli_run_without_the_key_is_refused_and_the_chain_holds(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The probe's sequence: summary with the key, summary without it, verify with it."""
    monkeypatch.setenv("LINEAGE_DATABASE_URL", db_url)
    monkeypatch.setenv("LINEAGE_AUDIT_KEY", KEY.decode())
    assert CliRunner().invoke(cli_app, ["summary"]).exit_code == 0
    monkeypatch.delenv("LINEAGE_AUDIT_KEY")
    refused = CliRunner().invoke(cli_app, ["summary"])
    assert refused.exit_code == 2, refused.output
    assert "does not verify under this process's LINEAGE_AUDIT_KEY" in refused.output
    assert len(refused.output.strip().splitlines()) == 1
    served = CliRunner().invoke(cli_app, ["serve", "--port", "1"])  # refused before it listens
    assert served.exit_code == 2, served.output
    monkeypatch.setenv("LINEAGE_AUDIT_KEY", KEY.decode())
    verified = CliRunner().invoke(cli_app, ["audit", "verify"])
    assert verified.exit_code == 0, verified.output
