"""The data plane's error hierarchy. Errors carry facts, never HTTP codes.

    SkewlessError
    ├── ContractError                 a contract cannot be turned into a schema
    ├── GovernanceError               `skewless apply` lint found problems
    ├── InputError                    input unusable as a whole (CLI exit 2)
    │   ├── UnknownSourceError
    │   └── UnreadableInputError
    ├── BatchRejectedError            a batch failed its contract (CLI exit 1)
    ├── RequestError                  an online/training request is malformed
    │   ├── UnknownFeatureServiceError
    │   ├── UnknownFeatureError
    │   ├── EntityKeyError
    │   ├── RequestDataError
    │   └── RequestTooLargeError
    ├── VersionNotFoundError          no such dataset or training-set version
    ├── OnlineStoreUnavailableError   the online store did not answer in time
    └── RegistryUnavailableError      Feast's SQL registry cannot be reached or used

The CLI and the feature server each map these to exit codes / status codes in
one place (``services.cli`` and ``services.serving.errors``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


class SkewlessError(Exception):
    """Base of every error the data plane raises on purpose."""


class ContractError(SkewlessError):
    """A contract cannot be mapped to Feast or Arrow (a programming error)."""


class GovernanceError(SkewlessError):
    """Definitions failed the governance lint; ``problems`` has one line per problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__(f"{len(self.problems)} governance problem(s):\n" + "\n".join(problems))


class InputError(SkewlessError):
    """The input cannot be used at all; nothing was written."""


class UnknownSourceError(InputError):
    def __init__(self, source: str, known: Sequence[str]) -> None:
        self.source = source
        super().__init__(f"unknown source {source!r}; known sources: {', '.join(known)}")


class UnreadableInputError(InputError):
    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class BatchRejectedError(SkewlessError):
    """A batch failed its contract under the reject policy (or failed as a whole)."""

    def __init__(self, source: str, result: Any) -> None:
        self.source = source
        self.result = result
        super().__init__(
            f"{source}: batch rejected, {result.invalid} of {result.received} rows invalid"
        )


class RequestError(SkewlessError):
    """A retrieval or push request is malformed."""


class UnknownFeatureServiceError(RequestError):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"unknown feature service {name!r}")


class UnknownFeatureError(RequestError):
    def __init__(self, ref: str, reason: str = "unknown feature") -> None:
        self.ref = ref
        super().__init__(f"{reason}: {ref!r}")


class EntityKeyError(RequestError):
    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        super().__init__(f"entity key {key!r}: {reason}")


class RequestDataError(RequestError):
    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        super().__init__(f"request data {field!r}: {reason}")


class RequestTooLargeError(RequestError):
    def __init__(self, what: str, limit: int) -> None:
        self.limit = limit
        super().__init__(f"{what} exceeds the limit of {limit}")


class VersionNotFoundError(SkewlessError):
    def __init__(self, kind: str, version: str) -> None:
        super().__init__(f"no {kind} version {version!r}")


class OnlineStoreUnavailableError(SkewlessError):
    def __init__(self, reason: str) -> None:
        super().__init__(f"online store unavailable: {reason}")


class RegistryUnavailableError(SkewlessError):
    """Feast's SQL registry cannot be used: one line naming where and why, never a password."""

    @classmethod
    def of(cls, exc: BaseException, url: str) -> RegistryUnavailableError | None:
        """The registry's problem if ``exc`` (raised while the registry was read) says it is one.

        Feast's SQL registry is the data plane's only database behind SQLAlchemy (the online
        SQLite store is read through sqlite3, and lineage delivery never raises), so a
        SQLAlchemy error saying the database is out of reach is the registry's. The driver's
        error is read by lineage's ``diagnose``, as for the lineage database.
        """
        if not type(exc).__module__.startswith("sqlalchemy"):
            return None
        from lineage.db.availability import diagnose

        found = diagnose(url, exc)
        if found is None or found.problem == "not_migrated":  # Feast creates its own tables
            return None
        named = f"feature registry {found.database!r} at {found.where}"
        other = "point SKEWLESS_REGISTRY_URL at"
        facts = {
            "missing": f"{named} does not exist: create it, or {other} one that does",
            "not_listening": f"feature registry at {found.where} does not answer "
            f"({found.reason}): start it, or {other} a running one",
            "login_refused": f"{named} refused user {found.user!r} ({found.reason}): check the "
            "user and password in SKEWLESS_REGISTRY_URL",
        }
        default = f"{named} is unavailable ({found.reason}): try again, or {other} another"
        return cls(facts.get(found.problem, default))
