"""``POST /api/v1/lineage`` answered at the edge of the app, ahead of its middleware stack.

Intake is the service's hot path: producers send every START and COMPLETE. The request is
handled on the event loop by this pure-ASGI layer, which ``create_app`` puts outside every
middleware (it caps, audits and maps its own errors): the body is read under the size cap (413),
parsed and validated, and handed to the intake writer (``lineage.intake``), which authenticates,
authorizes, stores and audits it with concurrent requests in one transaction; the response waits
for that commit. Every other request goes to the FastAPI app unchanged. The route declared in
``lineage.api.routes`` documents the same contract in the OpenAPI schema and shares
``ingest_request`` with this layer, so both answer alike.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from lineage import service
from lineage.api.encoding import decoded
from lineage.api.errors import data_error_response, internal_error, lineage_error_response
from lineage.api.middleware import audit_request, too_large
from lineage.errors import BodyTooLarge, InvalidEvent
from lineage.intake import RefusedValue, Submission, Writer
from lineage.limits import read_body

PATH = "/api/v1/lineage"


async def ingest_request(
    intake: Writer,
    authorization: str,
    body: bytes,
    source_address: str,
    path: str,
    *,
    encoding: str = "",
    limit: int,
) -> Response:
    """Validate one intake request, wait for its batch to commit, and build the response.

    ``body`` is decoded per its ``encoding`` (``Content-Encoding``) under ``limit`` first:
    ``BodyTooLarge`` when it inflates past it (the caller answers 413).
    """
    scheme, _, token = authorization.partition(" ")
    incoming, error = None, None
    try:
        incoming = service.Incoming.of(_json_object(decoded(body, encoding, limit)))
    except InvalidEvent as exc:
        error = exc
    submission = Submission(
        token=token.strip() if scheme.lower() == "bearer" else "",
        incoming=incoming,
        error=error,
        source_address=source_address,
        path=path,
    )
    try:
        outcome = await intake.submit(submission)
    except RefusedValue:  # the database refused a value; the writer audited the request
        return data_error_response()
    if outcome.error is not None:
        return lineage_error_response(outcome.error)
    result = outcome.result
    if result is None:  # an outcome holds a result or an error
        raise RuntimeError("intake answered with neither a result nor an error")
    # The body is built as text: its values are a fixed word, a hex digest and a UUID (or null).
    status = "duplicate" if result.duplicate else "created"
    run_id = "null" if result.run_id is None else json.dumps(result.run_id)
    text = f'{{"status":"{status}","eventHash":"{result.event_hash}","runId":{run_id}}}'
    return Response(text.encode(), status_code=201, media_type="application/json")


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidEvent(field="body", reason="not valid JSON") from None
    if not isinstance(value, dict):
        raise InvalidEvent(field="body", reason="not a JSON object")
    return value


class IntakeEndpoint:
    """Serve ``POST /api/v1/lineage`` directly; pass every other request to ``app``."""

    def __init__(
        self, app: ASGIApp, limit: int, factory: Callable[[], sessionmaker[Session]]
    ) -> None:
        self.app = app
        self.limit = limit
        self.factory = factory

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        try:
            response = await self._handle(scope, receive)
        except Exception as exc:  # a bug, not bad input: logged under a request id
            response = internal_error(exc)
        await response(scope, receive, send)

    async def _handle(self, scope: Scope, receive: Receive) -> Response:
        headers = dict(scope["headers"])
        try:
            body = await read_body(scope, receive, self.limit)
        except BodyTooLarge:
            await audit_request(self.factory(), scope, 413)
            return too_large(self.limit)
        client = scope.get("client")
        intake: Writer = scope["app"].state.intake
        try:
            return await ingest_request(
                intake,
                headers.get(b"authorization", b"").decode("latin-1"),
                body,
                client[0] if client else "unknown",
                PATH,
                encoding=headers.get(b"content-encoding", b"").decode("latin-1"),
                limit=self.limit,
            )
        except BodyTooLarge:  # it inflated past the cap
            await audit_request(self.factory(), scope, 413)
            return too_large(self.limit)
