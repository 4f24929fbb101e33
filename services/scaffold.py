"""A new governed repository (``skewless init``), copied from ``services/scaffold_template/``.

Owns the templates' rendering: each ``<name>.tmpl`` becomes ``<name>`` in the target directory
with ``${project}`` and ``${owner}`` substituted (``string.Template``; ``$$`` writes a ``$``).
The templates are real files, so they read as the repository a user gets: Feast definitions,
one contract per source, ``feature_store.yaml`` and a sample-data generator.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

from services.errors import InputError

TEMPLATE_DIR = Path(__file__).resolve().parent / "scaffold_template"
_PROJECT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]*$")  # what Feast accepts as a project name
_UNSAFE_OWNER = re.compile(r"[\"'\\\n\r$]")  # the owner is written inside string literals


def init_repository(target: Path, *, project: str, owner: str) -> list[Path]:
    """Scaffold a governed Feast repository in an empty or new directory.

    Args:
        target: the directory to create; it must not exist or be empty.
        project: the Feast project name (letters, digits and underscores).
        owner: the team or address named as owner of every object and field.

    Returns:
        The files written, in name order.

    Raises:
        InputError: the directory is not empty (or is a file), or the project or owner
            cannot be written as given.

    """
    if not _PROJECT.match(project):
        raise InputError(f"project {project!r}: use letters, digits and underscores only")
    if not owner.strip() or _UNSAFE_OWNER.search(owner):
        raise InputError(f"owner {owner!r}: give a team or address without quotes or '$'")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise InputError(f"{target}: not an empty directory; choose a new or empty one")
    rendered = {
        target / template.name.removesuffix(".tmpl"): Template(
            template.read_text(encoding="utf-8")
        ).substitute(project=project, owner=owner)
        for template in sorted(TEMPLATE_DIR.glob("*.tmpl"))
    }
    target.mkdir(parents=True, exist_ok=True)
    for path, text in rendered.items():
        path.write_text(text, encoding="utf-8")
    return list(rendered)
