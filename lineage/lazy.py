"""Modules imported on first use, so a command line starts (``--help``, a usage error) at once.

``lazy_module("lineage.service")`` returns the module object at once and runs its code when an
attribute is first read (``importlib.util.LazyLoader``): the CLI names what it will call without
paying for SQLAlchemy, Alembic, pandas and Feast until a command actually calls it.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy_module(name: str) -> ModuleType:
    """The module ``name``, executed on first attribute access (already imported: itself)."""
    found = sys.modules.get(name)
    if found is not None:
        return found
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ImportError(f"no module named {name!r}")
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module
