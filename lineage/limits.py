"""The request-body cap both servers apply: the bytes actually read count, not the header.

A cap on ``Content-Length`` alone lets a chunked body of any size through, read whole before
anything looks at its size. Here a declared length over the cap is refused before reading,
and every chunk received is counted: ``BodyTooLarge`` is raised the moment the total passes
the cap, so at most ``limit`` bytes (plus one chunk) are ever held. The feature server
(``services.serving.app``) and the lineage service (``lineage.api``) both use this module;
each maps ``BodyTooLarge`` to a 413 in its own error shape.
"""

from __future__ import annotations

from starlette.types import Message, Receive, Scope

from lineage.errors import BodyTooLarge


def declared_too_large(scope: Scope, limit: int) -> bool:
    """Whether the request declares a body over ``limit`` (or a length that is no number)."""
    for name, value in scope.get("headers") or ():
        if name == b"content-length":
            return not value.isdigit() or int(value) > limit
    return False


def capped(receive: Receive, limit: int) -> Receive:
    """``receive`` that raises ``BodyTooLarge`` once more than ``limit`` body bytes arrived."""
    seen = 0

    async def limited() -> Message:
        nonlocal seen
        message = await receive()
        seen += len(message.get("body", b""))
        if seen > limit:
            raise BodyTooLarge(limit=limit)
        return message

    return limited


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The whole body, read through :func:`capped` (``BodyTooLarge`` past the cap)."""
    if declared_too_large(scope, limit):
        raise BodyTooLarge(limit=limit)
    receive = capped(receive, limit)
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)
