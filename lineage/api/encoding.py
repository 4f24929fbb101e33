"""Compressed intake bodies: ``Content-Encoding: gzip`` or ``deflate``, capped after decoding.

openlineage-python's HTTP transports send gzip when configured with ``compression: gzip``. The
compressed body is read under the service's size cap like any other; it is then inflated
incrementally, never past the same cap plus one byte, so a small body that inflates to gigabytes
(a decompression bomb) is a 413 after at most ``limit`` bytes of output, not a full inflation.
"""

from __future__ import annotations

import zlib

from lineage.errors import BodyTooLarge, InvalidEvent

_CHUNK = 64 * 1024
# zlib window bits: gzip framing; zlib framing (HTTP's "deflate"); raw deflate, which some
# clients send under that name.
_GZIP, _ZLIB, _RAW = 16 + zlib.MAX_WBITS, zlib.MAX_WBITS, -zlib.MAX_WBITS


def decoded(body: bytes, encoding: str, limit: int) -> bytes:
    """``body`` decoded per its ``Content-Encoding`` (identity, gzip or deflate).

    Raises ``BodyTooLarge`` when the decoded body passes ``limit`` bytes and ``InvalidEvent``
    (field ``body`` or ``Content-Encoding``) when it is not valid data of its encoding.
    """
    name = encoding.strip().lower()
    if name in ("", "identity"):
        return body
    if name in ("gzip", "x-gzip"):
        return _inflate(body, _GZIP, limit, "gzip")
    if name == "deflate":
        try:
            return _inflate(body, _ZLIB, limit, "deflate")
        except InvalidEvent:
            return _inflate(body, _RAW, limit, "deflate")
    raise InvalidEvent(
        field="Content-Encoding", reason=f"unsupported {encoding!r}; use gzip, deflate or none"
    )


def _inflate(body: bytes, wbits: int, limit: int, name: str) -> bytes:
    inflater = zlib.decompressobj(wbits)
    out: list[bytes] = []
    size = 0
    pending = body
    try:
        while True:
            piece = inflater.decompress(pending, _CHUNK)
            size += len(piece)
            if size > limit:
                raise BodyTooLarge(limit=limit)
            out.append(piece)
            pending = inflater.unconsumed_tail
            if not pending:
                break
        rest = inflater.flush()
    except zlib.error:
        raise InvalidEvent(field="body", reason=f"not valid {name} data") from None
    if size + len(rest) > limit:
        raise BodyTooLarge(limit=limit)
    if not inflater.eof or inflater.unused_data:
        raise InvalidEvent(field="body", reason=f"not valid {name} data (truncated or trailing)")
    return b"".join([*out, rest])
