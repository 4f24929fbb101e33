"""The roles a token may have, apart from ``lineage.access`` so the CLI lists them cheaply."""

from __future__ import annotations

from typing import Literal, get_args

Role = Literal["admin", "producer", "consumer", "auditor"]
ROLES: tuple[str, ...] = get_args(Role)
