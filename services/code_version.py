"""The code version lineage records for the data plane's runs: the repository's git commit.

Provenance must say which definitions and transformations produced a dataset, a training set
or a model, so every run the data plane emits (apply, ingest, materialize, training sets,
audits) and every model registration carries OpenLineage's ``sourceCodeLocation`` job facet for
the Feast repository: its commit, ``-dirty`` appended when the repository's own files differ
from that commit (``git describe --dirty``'s convention), the branch and the remote. A
repository outside git has no code version, said as such (``None``), never invented.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lineage.emitter import PRODUCER

SOURCE_CODE_LOCATION_SCHEMA = (
    "https://openlineage.io/spec/facets/1-0-1/SourceCodeLocationJobFacet.json"
    "#/$defs/SourceCodeLocationJobFacet"
)


@dataclass(frozen=True)
class CodeVersion:
    """Where a repository's code stands: commit, dirty flag, branch, remote and path in it."""

    commit: str
    dirty: bool
    branch: str | None
    remote: str | None
    toplevel: Path
    path: str

    @property
    def version(self) -> str:
        """The commit, with ``-dirty`` when the repository's files differ from it."""
        return f"{self.commit}-dirty" if self.dirty else self.commit

    def facet(self) -> dict[str, Any]:
        """The OpenLineage ``sourceCodeLocation`` job facet for this version."""
        url = self.remote or self.toplevel.as_uri()
        facet: dict[str, Any] = {
            "_producer": PRODUCER,
            "_schemaURL": SOURCE_CODE_LOCATION_SCHEMA,
            "type": "git",
            "url": url,
            "repoUrl": url,
            "path": self.path,
            "version": self.version,
        }
        if self.branch:
            facet["branch"] = self.branch
        return facet


def _git(cwd: Path, *args: str) -> str | None:
    """Run one git command in ``cwd``; its stripped output, or None when git says no."""
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def code_version(repo_path: Path) -> CodeVersion | None:
    """The code version of the repository at ``repo_path``, or None when it is not in git.

    Only the repository's own directory decides ``dirty``: a Feast repository inside a larger
    monorepo is not dirty because of unrelated files, and ignored files (the data dir) never
    count.
    """
    repo = repo_path.resolve()
    if not repo.is_dir():
        return None
    toplevel = _git(repo, "rev-parse", "--show-toplevel")
    commit = _git(repo, "rev-parse", "--verify", "-q", "HEAD")
    if not toplevel or not commit:
        return None
    status = _git(repo, "status", "--porcelain", "--untracked-files=normal", "--", ".")
    branch = _git(repo, "symbolic-ref", "-q", "--short", "HEAD")
    remote = _git(repo, "config", "--get", f"branch.{branch}.remote") if branch else None
    remote_url = _git(repo, "remote", "get-url", remote or "origin")
    top = Path(toplevel)
    path = repo.relative_to(top).as_posix() if repo.is_relative_to(top) else "."
    return CodeVersion(
        commit=commit,
        dirty=bool(status),
        branch=branch or None,
        remote=remote_url or None,
        toplevel=top,
        path=path,
    )


def code_facets(repo_path: Path) -> dict[str, Any]:
    """Job facets recording the repository's code version (empty outside git)."""
    found = code_version(repo_path)
    return {"sourceCodeLocation": found.facet()} if found else {}
