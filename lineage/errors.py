"""Errors raised by the lineage plane; each carries facts, never an HTTP status.

The API maps them to status codes in ``lineage.api.errors`` (one place)::

    LineageError
    ├── InvalidEvent          an OpenLineage event failed validation (field, reason)
    │   └── InvalidReference  a record names an object lineage does not hold, or several
    ├── InvalidQuery          a query argument is out of bounds or malformed (field, reason)
    ├── NotFound              the addressed node, model or token does not exist (kind, key)
    │   └── NotVisible        it exists outside the caller's grants: answered as NotFound
    ├── Conflict              an immutable object would change (kind, key, reason)
    ├── AccessError
    │   ├── Unauthenticated   no token, or an unknown / revoked token
    │   └── Forbidden         the principal may not do this action on this namespace
    ├── BodyTooLarge          the request body exceeds the configured cap (limit)
    └── StoreUnavailable      the lineage database (tokens, audit log) did not answer (what)
        └── DatabaseUnavailable  it cannot be used at all: missing, not listening, ... (problem)
"""

from __future__ import annotations


class LineageError(Exception):
    """Base class of every lineage error."""

    def __reduce__(self) -> tuple[object, ...]:
        # Subclasses take keyword-only arguments, which default exception pickling cannot pass;
        # rebuild from args and attributes instead (errors cross to the intake writer process).
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(
    kind: type[LineageError], args: tuple[object, ...], state: dict[str, object]
) -> LineageError:
    error = kind.__new__(kind)
    error.args = args
    error.__dict__.update(state)
    return error


class InvalidEvent(LineageError):  # noqa: N818 (httpx-style names, fixed by the public API)
    """An OpenLineage event is malformed; ``field`` is a dotted path such as ``run.runId``."""

    def __init__(self, *, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class InvalidReference(InvalidEvent):
    """A record names an object lineage does not hold, or one that several objects match.

    E.g. a model version registered against a training-set version lineage has no record of.
    A subclass of ``InvalidEvent`` because, like a malformed event, it never becomes valid by
    being sent again: the emitter sets such records aside instead of retrying them (its spool
    replays in order, so a training set emitted before its model is always stored first).
    """


class InvalidQuery(LineageError):  # noqa: N818 (httpx-style names, fixed by the public API)
    """A query argument is out of bounds or malformed."""

    def __init__(self, *, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class NotFound(LineageError):  # noqa: N818 (httpx-style names, fixed by the public API)
    """The addressed object does not exist (or the caller may not know it exists)."""

    def __init__(self, *, kind: str, key: str) -> None:
        super().__init__(f"{kind} not found: {key}")
        self.kind = kind
        self.key = key


class NotVisible(NotFound):
    """The addressed object exists, but outside the caller's grants.

    Answered exactly as ``NotFound`` (same status, body and wording, with the key the caller
    gave), so that no answer tells whether an object it may not read exists, or where. The
    principal and namespace are kept for the audit log, which records the read as denied.
    """

    def __init__(self, *, kind: str, key: str, principal: str, namespace: str) -> None:
        super().__init__(kind=kind, key=key)
        self.principal = principal
        self.namespace = namespace


class Conflict(LineageError):  # noqa: N818 (httpx-style names, fixed by the public API)
    """An immutable object (e.g. a registered model version) would be changed.

    ``reason`` says what differs, when it is worth saying (e.g. the namespace a model lives in).
    """

    def __init__(self, *, kind: str, key: str, reason: str | None = None) -> None:
        default = f"{kind} already exists with other content: {key}"
        super().__init__(f"{kind} {key}: {reason}" if reason else default)
        self.kind = kind
        self.key = key
        self.reason = reason


class AccessError(LineageError):
    """Base class of authentication and authorization failures."""


class Unauthenticated(AccessError):  # noqa: N818 (httpx-style names, fixed by the public API)
    """No bearer token was given, or it is unknown or revoked."""


class Forbidden(AccessError):  # noqa: N818 (httpx-style names, fixed by the public API)
    """The principal is authenticated but may not perform ``action`` on ``namespace``."""

    def __init__(self, *, principal: str, action: str, namespace: str) -> None:
        super().__init__(f"{principal} may not {action} in {namespace!r}")
        self.principal = principal
        self.action = action
        self.namespace = namespace


class BodyTooLarge(LineageError):  # noqa: N818 (httpx-style names, fixed by the public API)
    """The request body is larger than ``limit`` bytes."""

    def __init__(self, *, limit: int) -> None:
        super().__init__(f"request body exceeds {limit} bytes")
        self.limit = limit


class StoreUnavailable(LineageError):  # noqa: N818 (httpx-style names, fixed by the public API)
    """The lineage database could not be reached for ``what`` (``token store``, ``audit log``).

    Callers fail closed on it: no token is taken as valid and no request as audited.
    """

    def __init__(self, *, what: str) -> None:
        super().__init__(f"the {what} is unavailable")
        self.what = what


class DatabaseUnavailable(StoreUnavailable):
    """The lineage database at ``where`` cannot be used, for ``problem``.

    ``problem`` is ``missing`` (no such database), ``not_listening`` (nothing answers at
    ``where``), ``login_refused`` (``user`` was refused), ``not_migrated`` (no lineage tables) or
    ``unavailable`` (any other refusal, e.g. it does not accept connections now); ``reason`` is
    the driver's own first line. ``where`` is ``host:port`` or ``file <path>``, never a password.
    """

    def __init__(self, *, problem: str, where: str, database: str, user: str, reason: str) -> None:
        super().__init__(what="lineage database")
        named = f'lineage database "{database}" at {where}' if database else "lineage database"
        if where.startswith("file "):
            named = f"lineage database {where}"
        facts = {
            "missing": f"{named} does not exist",
            "not_migrated": f"{named} has no lineage tables ({reason})",
            "not_listening": f"lineage database at {where} does not answer ({reason})",
            "login_refused": f"{named} refused user {user!r} ({reason})",
        }
        self.args = (facts.get(problem, f"{named} is unavailable ({reason})"),)
        self.problem = problem
        self.where = where
        self.database = database
        self.user = user
        self.reason = reason
